// The overview: the home page every role starts on until its own views take over.
import { dictionary } from './dictionary.js';

export const overview = dictionary({
  en: {
    title: 'Overview',
    site: 'Site',
    you: 'You',
    role: 'Role',
    timezone: 'Site time',
    live: 'Live events',
    liveOk: 'Connected: new events appear as they happen.',
    liveDown: 'Not connected: reconnecting.',
    recent: 'Latest events',
    recentEmpty: 'No event since this page opened.',
    when: 'Time',
    what: 'Event',
    where: 'Source',
    severity: 'Severity',
  },
  ja: {
    title: '概要',
    site: '拠点',
    you: 'ログイン中のアカウント',
    role: '役割',
    timezone: '拠点の現在時刻',
    live: 'ライブ配信',
    liveOk: '接続中：新しい出来事がすぐに表示されます。',
    liveDown: '未接続：再接続しています。',
    recent: '最新の出来事',
    recentEmpty: 'このページを開いてから出来事はありません。',
    when: '日時',
    what: '出来事',
    where: '発生元',
    severity: '重要度',
  },
});

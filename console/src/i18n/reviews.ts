// The managers' reviews view: grants past their review-by date (issue 13).
import { dictionary } from './dictionary.js';

export const reviews = dictionary({
  en: {
    nav: 'Reviews',
    title: 'Reviews due',
    hint: 'Grants past their review-by date, oldest due first. Confirm one with its next review date, or end it (revoked at once).',
    empty: 'No grant is due for review.',
    'col.person': 'Person',
    'col.area': 'Area',
    'col.purpose': 'Purpose',
    'col.reviewBy': 'Review by',
    'col.decide': 'Decision',
    nextReviewBy: 'Next review by',
    note: 'Note',
    confirm: 'Confirm',
    end: 'End',
    confirmed: 'Confirmed until the next review.',
    ended: 'Ended: the grant is revoked.',
  },
  ja: {
    nav: '見直し',
    title: '見直し期限到来',
    hint: '見直し期限を過ぎた入室権限です（期限の古い順）。次回の見直し期限を決めて継続するか、終了（即時取消）します。',
    empty: '見直しが必要な入室権限はありません。',
    'col.person': '対象者',
    'col.area': '区域',
    'col.purpose': '目的',
    'col.reviewBy': '見直し期限',
    'col.decide': '判断',
    nextReviewBy: '次回見直し期限',
    note: '備考',
    confirm: '継続',
    end: '終了',
    confirmed: '継続としました。次回見直し期限まで有効です。',
    ended: '終了しました。入室権限は取り消されました。',
  },
});

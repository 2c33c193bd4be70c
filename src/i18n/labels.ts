// Words for people: reason codes and event types in English and Japanese, for exports, reports and
// the guard console. The codes themselves stay the stable interface.
// Each table is typed by its registry in src/policy/vocabulary.ts: a word without both labels, or a
// label for no word, does not compile.
import type {
  AlarmState,
  ClearCause,
  CredentialKind,
  DoorRecordReason,
  EventCategory,
  EventType,
  KeyOpensKind,
  MasterKeyReason,
  ReasonCode,
  Severity,
} from '../policy/vocabulary.js';

export type Lang = 'en' | 'ja';
export type Labels<K extends string> = Readonly<Record<K, { readonly en: string; readonly ja: string }>>;

export const reasonLabels: Labels<ReasonCode> = {
  granted: { en: 'Granted', ja: '許可' },
  'unknown-credential': { en: 'Unknown credential', ja: '未登録の認証媒体' },
  'credential-revoked': { en: 'Credential revoked', ja: '認証媒体失効' },
  'credential-suspended': { en: 'Credential suspended', ja: '認証媒体停止中' },
  'person-inactive': { en: 'Person not active', ja: '利用者無効' },
  'pin-locked-out': { en: 'Locked out after wrong PINs', ja: '暗証番号誤りによるロックアウト中' },
  'area-locked-down': { en: 'Area locked down', ja: '区域封鎖中' },
  'no-grant': { en: 'No access right for the area', ja: '区域の入室権限なし' },
  'grant-not-yet-valid': { en: 'Access right not yet valid', ja: '入室権限の有効期間前' },
  'grant-expired': { en: 'Access right expired', ja: '入室権限の期限切れ' },
  'no-visit': { en: 'No visit for the area', ja: '訪問予定なし' },
  'visit-not-approved': { en: 'Visit not approved', ja: '訪問未承認' },
  'visit-not-yet-valid': { en: 'Visit not yet started', ja: '訪問時間前' },
  'visit-expired': { en: 'Visit over', ja: '訪問時間終了' },
  'outside-hours': { en: 'Outside business hours', ja: '業務時間外' },
  'no-training': { en: 'No training on record', ja: '教育未受講' },
  'training-lapsed': { en: 'Annual training lapsed', ja: '年次教育の期限切れ' },
  'no-pledge': { en: 'No confidentiality pledge', ja: '秘密保持誓約書なし' },
  'anti-passback': { en: 'Anti-passback', ja: 'アンチパスバック違反' },
  'factor-not-accepted': { en: 'Method not accepted here', ja: 'この扉で使えない認証方式' },
  'wrong-pin': { en: 'Wrong PIN', ja: '暗証番号誤り' },
  'wrong-otp': { en: 'Wrong one-time code', ja: 'ワンタイムコード誤り' },
  'wrong-bio': { en: 'Biometric mismatch', ja: '生体認証不一致' },
  'second-factor-alone': { en: 'Second factor without a first', ja: '二要素目のみの入力' },
  'second-factor-timeout': { en: 'Second factor not given in time', ja: '二要素目の入力時間切れ' },
  'stale-read': { en: 'Read too old to decide (controller backlog)', ja: '読み取りから時間が経ち過ぎ（処理遅延）' },
  'controller-busy': { en: 'Controller busy: too many reads waiting', ja: '制御装置の処理待ち超過' },
  superseded: { en: 'Replaced by a newer read before completion', ja: '完了前に別の読み取りで置換' },
  cancelled: { en: 'Cancelled (lockdown, emergency or reload)', ja: '取消（封鎖・非常解錠・設定変更）' },
  'escort-timeout': { en: 'No escort in time', ja: '同行者の認証なし' },
  'escort-not-host': { en: "Escort is not the visit's host", ja: '同行者が訪問の受入担当者ではない' },
  'escort-not-valid': { en: 'Escort no longer may enter', ja: '同行者の入室権限が無効' },
  'two-person-timeout': { en: 'No second person in time', ja: '二人目の認証なし' },
  'credential-fault': { en: 'Stored credential unreadable', ja: '登録済み認証情報の読み取り不能' },
};

/** Door events and area mode changes that share the entry log's reason column. */
export const doorEventLabels: Labels<DoorRecordReason> = {
  rex: { en: 'Exit button', ja: '退出ボタン' },
  'door-forced': { en: 'Door forced', ja: 'こじ開け' },
  'door-held-open': { en: 'Door held open', ja: '扉の開放放置' },
  'emergency-release': { en: 'Emergency release', ja: '非常解錠' },
  'emergency-release-ended': { en: 'Emergency release ended', ja: '非常解錠終了' },
  'remote-unlock': { en: 'Remote unlock', ja: '遠隔解錠' },
  'emergency-unlock': { en: 'Emergency unlock (one account, with a reason)', ja: '緊急解錠（一名・理由付き）' },
  'mode-normal': { en: 'Area back to normal', ja: '区域通常運用' },
  'mode-lockdown': { en: 'Area locked down', ja: '区域封鎖' },
  'mode-emergency': { en: 'Area emergency release', ja: '区域非常解錠' },
  snapshot: { en: 'Camera picture (evidence)', ja: 'カメラ画像（証拠）' },
  'safe-opened': { en: 'Safe opened (holder, both locks)', ja: '金庫開扉（権限者・二重施錠解除）' },
  'safe-opened-unauthorised': { en: 'Safe opened without authorisation', ja: '金庫の不正開扉' },
  'safe-closed': { en: 'Safe closed', ja: '金庫閉扉' },
};

export const eventLabels: Labels<EventType> = {
  'access-denied': { en: 'Access denied', ja: '入室拒否' },
  'invalid-credential-used': { en: 'Expired or suspended credential used', ja: '失効・停止中の認証媒体の使用' },
  'pin-lockout': { en: 'Wrong PIN repeatedly: locked out', ja: '暗証番号の連続誤り（ロックアウト）' },
  duress: { en: 'Duress', ja: '脅迫コード' },
  'anti-passback-violation': { en: 'Anti-passback violation', ja: 'アンチパスバック違反' },
  'repeated-denials': { en: 'Repeated denials at a door', ja: '同一扉での連続入室拒否' },
  'door-forced': { en: 'Door forced', ja: 'こじ開け' },
  'door-forced-cleared': { en: 'Forced door closed', ja: 'こじ開け復旧' },
  'door-held-open': { en: 'Door held open', ja: '扉の開放放置' },
  'door-held-open-cleared': { en: 'Held-open door closed', ja: '開放放置復旧' },
  'granted-not-opened': { en: 'Granted but not opened', ja: '許可後未開扉' },
  'lock-fault': { en: 'Lock fault', ja: '電気錠異常' },
  tamper: { en: 'Tamper', ja: 'いたずら（筐体開放）' },
  'tamper-cleared': { en: 'Tamper cleared', ja: 'いたずら復旧' },
  intrusion: { en: 'Intrusion', ja: '侵入検知' },
  reminder: { en: 'Reminder', ja: 'リマインダー' },
  'rotation-overdue': { en: 'Dial code rotation overdue', ja: 'ダイヤル番号変更期限超過' },
  'patrol-missed': { en: 'Patrol checkpoint missed', ja: '巡回チェックポイント未通過' },
  'patrol-completed': { en: 'Patrol round completed', ja: '巡回完了' },
  'patrol-incomplete': { en: 'Patrol round incomplete', ja: '巡回未完了' },
  motion: { en: 'Motion', ja: '人感検知' },
  'safe-opened-unauthorised': { en: 'Safe opened without authorisation', ja: '金庫の不正開扉' },
  'safe-held-open': { en: 'Safe left open', ja: '金庫の開放放置' },
  'safe-approach-out-of-hours': { en: 'Safe approached out of hours', ja: '時間外の金庫への接近' },
  'safe-pin-refused': { en: 'PIN refused at a safe keypad', ja: '金庫テンキーでの暗証番号拒否' },
  'zone-armed': { en: 'Zone armed', ja: '警戒開始' },
  'zone-disarmed': { en: 'Zone disarmed', ja: '警戒解除' },
  'sensor-chatter': { en: 'Sensor chattering (not trusted)', ja: 'センサー誤動作（無効化）' },
  'sensor-chatter-cleared': { en: 'Sensor steady again', ja: 'センサー復旧' },
  'device-offline': { en: 'Device communication lost', ja: '機器通信断' },
  'device-online': { en: 'Device communication restored', ja: '機器通信復旧' },
  'device-fault': { en: 'Malformed device message', ja: '機器からの不正メッセージ' },
  'camera-fault': { en: 'Camera gave no picture', ja: 'カメラ画像取得失敗' },
  'broker-lost': { en: 'Broker communication lost', ja: 'ブローカー通信断' },
  'broker-connected': { en: 'Broker connected', ja: 'ブローカー接続' },
  'primary-power-failed': { en: 'Primary power failed', ja: '商用電源異常' },
  'primary-power-restored': { en: 'Primary power restored', ja: '商用電源復旧' },
  'standby-power-trouble': { en: 'Standby power trouble', ja: '予備電源異常' },
  'standby-power-restored': { en: 'Standby power restored', ja: '予備電源復旧' },
  'configuration-entered': { en: 'Configuration entered', ja: '設定変更開始' },
  'configuration-left': { en: 'Configuration left', ja: '設定変更終了' },
  'configuration-rejected': { en: 'Configuration rejected', ja: '設定変更拒否' },
  'area-locked-down': { en: 'Area locked down', ja: '区域封鎖' },
  'area-emergency-release': { en: 'Emergency release', ja: '非常解錠' },
  'area-normal': { en: 'Area back to normal', ja: '区域通常運用' },
  'remote-unlock': { en: 'Remote unlock', ja: '遠隔解錠' },
  'remote-unlock-requested': { en: 'Remote unlock awaiting confirmation', ja: '遠隔解錠の承認待ち' },
  'emergency-unlock': { en: 'Emergency unlock', ja: '緊急解錠' },
  'master-key-used': { en: 'Master key lent', ja: 'マスターキー貸出' },
  'key-loan-overdue': { en: 'Key not returned in time', ja: '鍵の返却期限超過' },
  'storage-fault': { en: 'Storage fault', ja: '記録装置異常' },
  'listener-fault': { en: 'Controller feature failed on an event', ja: '制御機能のイベント処理異常' },
  'credential-fault': { en: 'Stored credential unreadable (PIN hash, OTP seed)', ja: '登録済み認証情報の読み取り不能（暗証番号ハッシュ・OTPシード）' },
  'log-checkpoints-missing': { en: 'Signed log checkpoints missing', ja: '署名チェックポイントの欠落' },
  'decision-backlog': { en: 'Reads refused as too old (backlog)', ja: '処理遅延による読み取り拒否' },
  'controller-busy': { en: 'Reads refused: too many waiting to be decided', ja: '処理待ち超過による読み取り拒否' },
  'backup-failed': { en: 'Scheduled backup failed', ja: '定期バックアップの失敗' },
  'clock-jump': { en: 'Gateway clock jumped', ja: 'ゲートウェイ時計の急変' },
  'clock-unsynchronised': { en: 'Gateway clock not synchronised', ja: 'ゲートウェイ時計の同期外れ' },
  'clock-synchronised': { en: 'Gateway clock synchronised again', ja: 'ゲートウェイ時計の同期復旧' },
  'clock-drift': { en: 'Device clock off from the gateway', ja: '機器時計のずれ' },
  'api-denied': { en: 'API call refused', ja: 'API操作の拒否' },
  'mqtt-login-refused': { en: 'Device login refused', ja: '機器ログイン拒否' },
  'mqtt-publish-refused': { en: 'Device publish refused', ja: '機器送信拒否' },
  'mqtt-subscribe-refused': { en: 'Device subscription refused', ja: '機器購読拒否' },
  'mqtt-plain-listener': { en: 'Unencrypted device link enabled', ja: '暗号化されていない機器接続が有効' },
  'api-plain-http': { en: 'API and console served without HTTPS on the network', ja: 'APIとコンソールをHTTPSなしでネットワークに公開' },
  'open-broker': { en: 'MQTT broker open to anyone', ja: 'MQTTブローカーが無認証で接続可能' },
  'open-broker-cleared': { en: 'MQTT broker closed again', ja: 'MQTTブローカーの無認証接続が解消' },
  'file-modes-loose': { en: 'Data files readable by other users', ja: 'データファイルが他のユーザーから読み取り可能' },
  'account-locked': { en: 'Account locked after failed sign-ins', ja: 'サインイン失敗によるアカウントロック' },
  'login-refused': { en: 'Sign-in refused', ja: 'サインイン拒否' },
  'refresh-token-reused': { en: 'Refresh token used twice (session ended)', ja: '更新トークンの再使用（セッション終了）' },
};

export const credentialKindLabels: Labels<CredentialKind> = {
  card: { en: 'Card', ja: 'カード' },
  pin: { en: 'PIN', ja: '暗証番号' },
  otp: { en: 'One-time code', ja: 'ワンタイムコード' },
  bio: { en: 'Biometrics', ja: '生体認証' },
};

export const eventCategoryLabels: Labels<EventCategory> = {
  access: { en: 'Access', ja: '入退室' },
  door: { en: 'Door', ja: '扉' },
  alarm: { en: 'Alarm', ja: '警報' },
  device: { en: 'Device', ja: '機器' },
  security: { en: 'Security', ja: 'セキュリティ' },
  system: { en: 'System', ja: 'システム' },
  reminder: { en: 'Reminder', ja: 'リマインダー' },
};

export const severityLabels: Labels<Severity> = {
  info: { en: 'Information', ja: '情報' },
  warning: { en: 'Warning', ja: '注意' },
  alarm: { en: 'Alarm', ja: '警報' },
};

export const alarmStateLabels: Labels<AlarmState> = {
  raised: { en: 'Raised', ja: '発報' },
  acknowledged: { en: 'Acknowledged', ja: '確認済み' },
  escalated: { en: 'Escalated', ja: '上位通報' },
  cleared: { en: 'Cleared', ja: '復旧' },
};

export const clearCauseLabels: Labels<ClearCause> = {
  intrusion: { en: 'Intrusion', ja: '侵入' },
  'false-alarm': { en: 'False alarm', ja: '誤報' },
  test: { en: 'Test', ja: '試験' },
  fault: { en: 'Fault', ja: '機器故障' },
  other: { en: 'Other', ja: 'その他' },
};

export const masterKeyReasonLabels: Labels<MasterKeyReason> = {
  disaster: { en: 'Disaster', ja: '災害' },
  emergency: { en: 'Emergency', ja: '緊急事態' },
};

export const keyOpensKindLabels: Labels<KeyOpensKind> = {
  area: { en: 'Area', ja: '区域' },
  safe: { en: 'Safe', ja: '金庫' },
};

/** The label of a code in a language; unknown codes are shown as they are. */
export function label(table: Partial<Labels<string>>, code: string | null, lang: Lang): string {
  if (code === null) return '';
  // Codes come from stored records, which may hold words older or newer than this build's.
  return (Object.hasOwn(table, code) ? table[code]?.[lang] : undefined) ?? code;
}

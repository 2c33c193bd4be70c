// The password policy for manager accounts. Pure: the reuse check against hashed history lives in auth.ts.
import { commonPasswords } from './common-passwords.js';

export const MIN_PASSWORD_LENGTH = 12;
export const PASSWORD_HISTORY = 5;

const common = new Set(commonPasswords);

export type PasswordProblem =
  | 'too-short'
  | 'one-repeated-character'
  | 'digits-only'
  | 'letters-only'
  | 'contains-username'
  | 'contains-name'
  | 'common-password';

export const passwordProblemText: Record<PasswordProblem, string> = {
  'too-short': `at least ${MIN_PASSWORD_LENGTH} characters`,
  'one-repeated-character': 'not one character repeated',
  'digits-only': 'not digits only',
  'letters-only': 'not letters only',
  'contains-username': 'must not contain the username',
  'contains-name': "must not contain the user's name",
  'common-password': 'is a commonly used password',
};

/** Every problem with a password, empty when it is acceptable. */
export function checkPassword(password: string, user: { username: string; displayName: string }): PasswordProblem[] {
  const problems: PasswordProblem[] = [];
  const chars = [...password];
  if (chars.length < MIN_PASSWORD_LENGTH) problems.push('too-short');
  if (chars.length > 0 && new Set(chars).size === 1) problems.push('one-repeated-character');
  if (/^\p{Nd}+$/u.test(password)) problems.push('digits-only');
  if (/^\p{L}+$/u.test(password)) problems.push('letters-only');
  const lower = password.toLowerCase();
  if (user.username.length >= 3 && lower.includes(user.username.toLowerCase())) problems.push('contains-username');
  // Any part of the name: three letters or more in Latin script, two in Japanese (佐藤, 花子).
  const parts = user.displayName
    .toLowerCase()
    .split(/[\s\u3000._-]+/)
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the range is all of ASCII, to find a non-ASCII name part
    .filter((p) => [...p].length >= (/[^\x00-\x7f]/.test(p) ? 2 : 3));
  if (parts.some((p) => lower.includes(p))) problems.push('contains-name');
  if (common.has(lower)) problems.push('common-password');
  return problems;
}

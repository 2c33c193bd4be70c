// What a syslog collector in a test checks a message against.

/** RFC 5424's HEADER and STRUCTURED-DATA (6.), with MSG after a BOM. */
export const RFC5424 =
  /^<(\d{1,3})>1 (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,6})?(?:Z|[+-]\d\d:\d\d)) ([!-~]{1,255}) ([!-~]{1,48}) ([!-~]{1,128}) ([!-~]{1,32}) (-|(?:\[[^ =\]"]{1,32}(?: [^ =\]"]{1,32}="(?:[^"\\\]]|\\["\\\]])*")*\])+)(?: \uFEFF([\s\S]*))?$/;

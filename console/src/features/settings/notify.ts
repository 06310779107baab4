/** The pure parts of the notification settings: time zones and local times, a percentage typed
 * as the API's fraction (exactly, as decimal strings), and how many SMS parts a text takes. */

const LOCAL_TIME = /^([01]\d|2[0-3]):[0-5]\d$/;

export function isLocalTime(value: string): boolean {
  return LOCAL_TIME.test(value);
}

/** The IANA zones the browser knows, with UTC (which some browsers leave out of the list). */
export function timeZones(): string[] {
  let zones: string[] = [];
  try {
    zones = Intl.supportedValuesOf("timeZone");
  } catch {
    zones = [];
  }
  return zones.includes("UTC") ? zones : ["UTC", ...zones];
}

export function isTimeZone(name: string): boolean {
  if (!name.trim()) return false;
  try {
    new Intl.DateTimeFormat("en", { timeZone: name });
    return true;
  } catch {
    return false;
  }
}

/** `2026-03-31 18:00` of an instant in a zone (24 hours); the instant itself if the zone is
 * unknown to the browser. */
export function localDateTime(instant: string, zone: string): string {
  const date = new Date(instant);
  try {
    const parts = Object.fromEntries(
      new Intl.DateTimeFormat("en-GB", {
        timeZone: zone,
        year: "numeric",
        month: "2-digit",
        day: "2-digit",
        hour: "2-digit",
        minute: "2-digit",
        hourCycle: "h23",
      })
        .formatToParts(date)
        .map((p) => [p.type, p.value]),
    );
    return `${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute}`;
  } catch {
    return instant;
  }
}

export function utcDateTime(instant: string): string {
  return localDateTime(instant, "UTC");
}

const DECIMAL = /^\d{1,13}(\.\d{1,8})?$/;

export function isPercent(text: string): boolean {
  return DECIMAL.test(text.trim());
}

function trimNumber(digits: string, point: number): string {
  // digits without a point, and where the point goes (may be <= 0 or past the end)
  let whole = point <= 0 ? "0" : digits.slice(0, point).padEnd(point, "0");
  let fraction = point <= 0 ? "0".repeat(-point) + digits : digits.slice(point);
  whole = whole.replace(/^0+(?=\d)/, "");
  fraction = fraction.replace(/0+$/, "");
  return fraction ? `${whole}.${fraction}` : whole;
}

/** "5" (percent) → "0.05"; "12.5" → "0.125". Moved by two places, never through a float. */
export function percentToFraction(percent: string): string {
  const [whole, fraction = ""] = percent.trim().split(".");
  return trimNumber(whole + fraction, whole.length - 2);
}

/** "0.05" → "5"; "0.125" → "12.5". */
export function fractionToPercent(ratio: string): string {
  const [whole, fraction = ""] = ratio.trim().split(".");
  return trimNumber(whole + fraction, whole.length + 2);
}

// GSM 03.38: the basic set takes one septet, the extension table two (an escape first).
const GSM_BASIC =
  "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
const GSM_EXTENSION = "\f^{}\\[~]|€";

export type SmsLength = { characters: number; parts: number; encoding: "gsm7" | "ucs2"; perPart: number };

/** How a text is sent by SMS: GSM-7 (160 characters in one part, 153 a part when split) when
 * every character is in the GSM 03.38 alphabet, else UCS-2 (70, 67 when split). Characters are
 * counted as the network does: an extension character counts twice, a character outside the
 * Basic Multilingual Plane (an emoji) as two UCS-2 units. */
export function smsLength(text: string): SmsLength {
  const chars = Array.from(text);
  const gsm = chars.every((c) => GSM_BASIC.includes(c) || GSM_EXTENSION.includes(c));
  if (gsm) {
    const septets = chars.reduce((n, c) => n + (GSM_EXTENSION.includes(c) ? 2 : 1), 0);
    const parts = septets === 0 ? 0 : septets <= 160 ? 1 : Math.ceil(septets / 153);
    return { characters: septets, parts, encoding: "gsm7", perPart: parts > 1 ? 153 : 160 };
  }
  const units = text.length; // UTF-16 code units, as UCS-2 carries them
  const parts = units <= 70 ? 1 : Math.ceil(units / 67);
  return { characters: units, parts, encoding: "ucs2", perPart: parts > 1 ? 67 : 70 };
}

//! SCIM `dateTime` values (RFC 7643 §2.3.5, which refers to XML Schema `dateTime` and
//! RFC 3339 §5.6): parsing into one comparable instant and printing in the form we emit.
//!
//! Every dateTime is reduced to microseconds since the Unix epoch, UTC, so that filters,
//! sorting and the storage index compare instants rather than strings (`…+02:00` and the
//! equivalent `…Z` are equal). Identity providers disagree on precision: Entra sends seven
//! fractional digits (`2026-01-01T00:00:00.0000000Z`), others none; some omit the offset.
//! Parsing is hand-written because the accepted shapes are small and must never panic.

/// Microseconds in one day.
const MICROS_PER_DAY: i64 = 86_400_000_000;
/// Microseconds in one second.
const MICROS_PER_SECOND: i64 = 1_000_000;

/// Parses an RFC 3339 date-time into microseconds since the Unix epoch, UTC.
///
/// Accepted: `YYYY-MM-DDTHH:MM:SS[.f{1,9}](Z|±hh:mm)`, `T`/`Z` in either case; without an
/// offset the time is taken as UTC; a bare date `YYYY-MM-DD` is midnight UTC. Fractions
/// beyond microseconds are truncated. A leap second (`:60`) is accepted and counts as the
/// first second of the next minute. Returns `None` for anything else, including
/// impossible dates such as `2025-02-29`.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let mut p = Cursor { b, i: 0 };
    let year = p.digits(4)?;
    p.expect(b'-')?;
    let month = p.digits(2)?;
    p.expect(b'-')?;
    let day = p.digits(2)?;
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    let days = days_from_civil(year, month, day);
    if p.done() {
        return days.checked_mul(MICROS_PER_DAY);
    }
    match p.next()? {
        b'T' | b't' => {}
        _ => return None,
    }
    let hour = p.digits(2)?;
    p.expect(b':')?;
    let minute = p.digits(2)?;
    p.expect(b':')?;
    let second = p.digits(2)?;
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let mut micros: i64 = 0;
    if p.peek() == Some(b'.') {
        p.i += 1;
        let mut n = 0;
        let mut scale = 100_000;
        while let Some(c) = p.peek().filter(u8::is_ascii_digit) {
            if n < 6 {
                micros += i64::from(c - b'0') * scale;
                scale /= 10;
            }
            n += 1;
            p.i += 1;
        }
        if n == 0 || n > 9 {
            return None;
        }
    }
    let offset_seconds: i64 = match p.next() {
        None => 0,
        Some(b'Z' | b'z') => 0,
        Some(sign @ (b'+' | b'-')) => {
            let oh = p.digits(2)?;
            p.expect(b':')?;
            let om = p.digits(2)?;
            if oh > 23 || om > 59 {
                return None;
            }
            let off = oh * 3600 + om * 60;
            if sign == b'+' { off } else { -off }
        }
        Some(_) => return None,
    };
    if !p.done() {
        return None;
    }
    let seconds = days
        .checked_mul(86_400)?
        .checked_add(hour * 3600 + minute * 60 + second)?
        .checked_sub(offset_seconds)?;
    seconds.checked_mul(MICROS_PER_SECOND)?.checked_add(micros)
}

/// Formats an instant as RFC 3339 in UTC with millisecond precision, e.g.
/// `2026-11-23T07:47:55.123Z` (the form scimd writes in `meta.created`/`meta.lastModified`).
/// Sub-millisecond digits are truncated toward the past.
pub fn format_rfc3339(micros: i64) -> String {
    let days = micros.div_euclid(MICROS_PER_DAY);
    let in_day = micros.rem_euclid(MICROS_PER_DAY);
    let (year, month, day) = civil_from_days(days);
    let secs = in_day / MICROS_PER_SECOND;
    let millis = (in_day % MICROS_PER_SECOND) / 1000;
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        secs / 3600,
        (secs / 60) % 60,
        secs % 60
    )
}

/// A byte cursor over the input; every accessor returns `None` instead of panicking.
struct Cursor<'a> {
    b: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let c = self.peek()?;
        self.i += 1;
        Some(c)
    }

    fn done(&self) -> bool {
        self.i >= self.b.len()
    }

    fn expect(&mut self, want: u8) -> Option<()> {
        (self.next()? == want).then_some(())
    }

    /// Exactly `n` ASCII digits as a number.
    fn digits(&mut self, n: usize) -> Option<i64> {
        let mut v: i64 = 0;
        for _ in 0..n {
            let c = self.next()?;
            if !c.is_ascii_digit() {
                return None;
            }
            v = v * 10 + i64::from(c - b'0');
        }
        Some(v)
    }
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(year) => 29,
        2 => 28,
        _ => 0,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date, computed in 400-year eras
/// (each era has exactly 146 097 days) with March as the first month of the year so that
/// the leap day falls at the end.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (month + 9) % 12; // March = 0 … February = 11
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The inverse of [`days_from_civil`].
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = MICROS_PER_DAY;
    const SEC: i64 = MICROS_PER_SECOND;

    #[test]
    fn epoch_and_simple_instants() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_rfc3339("1970-01-02T00:00:01Z"), Some(DAY + SEC));
        assert_eq!(parse_rfc3339("1969-12-31T23:59:59Z"), Some(-SEC));
        assert_eq!(
            parse_rfc3339("2000-01-01T00:00:00Z"),
            Some(946_684_800 * SEC)
        );
        assert_eq!(
            parse_rfc3339("2026-11-23T07:47:55Z"),
            Some(1_795_420_075 * SEC)
        );
    }

    #[test]
    fn fractions_of_any_length_up_to_nine_digits() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00.5Z"), Some(500_000));
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00.123Z"), Some(123_000));
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00.123456Z"), Some(123_456));
        // Entra: seven digits; the seventh is below microsecond precision.
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00.1234567Z"), Some(123_456));
        assert_eq!(
            parse_rfc3339("1970-01-01T00:00:00.123456789Z"),
            Some(123_456)
        );
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00.1234567891Z"), None);
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00.Z"), None);
    }

    #[test]
    fn offsets_denote_the_same_instant() {
        let z = parse_rfc3339("2026-03-01T10:00:00Z");
        assert_eq!(parse_rfc3339("2026-03-01T12:30:00+02:30"), z);
        assert_eq!(parse_rfc3339("2026-03-01T05:00:00-05:00"), z);
        assert_eq!(parse_rfc3339("2026-03-01T10:00:00-00:00"), z);
        // Crossing midnight backwards into a leap day.
        assert_eq!(
            parse_rfc3339("2024-03-01T01:00:00+02:00"),
            parse_rfc3339("2024-02-29T23:00:00Z")
        );
        assert_eq!(parse_rfc3339("2026-03-01T10:00:00+24:00"), None);
        assert_eq!(parse_rfc3339("2026-03-01T10:00:00+0200"), None);
    }

    #[test]
    fn missing_offset_and_bare_dates_are_utc() {
        assert_eq!(
            parse_rfc3339("2026-03-01T10:00:00"),
            parse_rfc3339("2026-03-01T10:00:00Z")
        );
        assert_eq!(
            parse_rfc3339("2026-03-01"),
            parse_rfc3339("2026-03-01T00:00:00Z")
        );
        assert_eq!(
            parse_rfc3339("2026-03-01t10:00:00z"),
            parse_rfc3339("2026-03-01T10:00:00Z")
        );
    }

    #[test]
    fn leap_years() {
        assert!(parse_rfc3339("2024-02-29T00:00:00Z").is_some());
        assert!(parse_rfc3339("2000-02-29T00:00:00Z").is_some());
        assert_eq!(parse_rfc3339("1900-02-29T00:00:00Z"), None);
        assert_eq!(parse_rfc3339("2025-02-29T00:00:00Z"), None);
        assert_eq!(
            parse_rfc3339("2024-03-01T00:00:00Z").zip(parse_rfc3339("2024-02-28T00:00:00Z")),
            parse_rfc3339("2024-02-28T00:00:00Z").map(|a| (a + 2 * DAY, a))
        );
    }

    #[test]
    fn year_one_from_entra() {
        // Entra sends this as an "empty" date; it must parse, not overflow.
        let t = parse_rfc3339("0001-01-03T00:00:00.0000000Z");
        // 0001-01-01 is 719 162 days before the epoch.
        assert_eq!(t, Some((-719_162 + 2) * DAY));
        assert_eq!(
            format_rfc3339(t.unwrap_or_default()),
            "0001-01-03T00:00:00.000Z"
        );
    }

    #[test]
    fn rejects_malformed_input() {
        for s in [
            "",
            "2026",
            "2026-13-01T00:00:00Z",
            "2026-04-31T00:00:00Z",
            "2026-00-10",
            "2026-01-01T24:00:00Z",
            "2026-01-01T10:60:00Z",
            "2026-01-01 10:00:00Z",
            "2026-01-01T10:00Z",
            "2026-01-01T10:00:00ZZ",
            "2026-01-01T10:00:00+02",
            "26-01-01",
            "２０２６-01-01",
            "2026-01-01T10:00:00Zé",
        ] {
            assert_eq!(parse_rfc3339(s), None, "{s}");
        }
    }

    #[test]
    fn leap_second_rolls_over() {
        assert_eq!(
            parse_rfc3339("2016-12-31T23:59:60Z"),
            parse_rfc3339("2017-01-01T00:00:00Z")
        );
    }

    #[test]
    fn formats_utc_with_milliseconds() {
        assert_eq!(format_rfc3339(0), "1970-01-01T00:00:00.000Z");
        let t = parse_rfc3339("2026-11-23T07:47:55.123456Z").unwrap_or_default();
        assert_eq!(format_rfc3339(t), "2026-11-23T07:47:55.123Z");
        assert_eq!(format_rfc3339(-1), "1969-12-31T23:59:59.999Z");
        let t = parse_rfc3339("2024-02-29T23:59:59.999+01:00").unwrap_or_default();
        assert_eq!(format_rfc3339(t), "2024-02-29T22:59:59.999Z");
        assert_eq!(
            format_rfc3339(parse_rfc3339("9999-12-31T23:59:59Z").unwrap_or_default()),
            "9999-12-31T23:59:59.000Z"
        );
    }

    #[test]
    fn civil_round_trip_over_many_days() {
        for d in (-800_000..3_000_000).step_by(997) {
            let (y, m, day) = civil_from_days(d);
            assert_eq!(days_from_civil(y, m, day), d);
            assert!((1..=12).contains(&m));
            assert!(day >= 1 && day <= days_in_month(y, m));
        }
    }
}

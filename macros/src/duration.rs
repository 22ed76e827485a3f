//! Parsing of the duration strings accepted by the time-related options,
//! such as `"30s"`, `"100ms"` or `"1h30m"`.

/// Why a duration string was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DurationError {
    /// The text is not a sequence of `<integer><unit>` parts.
    Invalid,
    /// The total does not fit in a `u64` number of nanoseconds.
    Overflow,
}

/// The accepted units and how many nanoseconds each one stands for.
const UNITS: &[(&str, u64)] = &[
    ("ns", 1),
    ("us", 1_000),
    ("ms", 1_000_000),
    ("s", 1_000_000_000),
    ("m", 60 * 1_000_000_000),
    ("h", 60 * 60 * 1_000_000_000),
    ("d", 24 * 60 * 60 * 1_000_000_000),
];

/// Parses a duration string made of one or more `<integer><unit>` parts and
/// returns its total length in nanoseconds.
///
/// The units are `ns`, `us`, `ms`, `s`, `m`, `h` and `d`. Parts are simply
/// added up, so `"1h30m"` is 5400 seconds. Spaces, signs, fractions, a
/// missing unit or an unknown unit are all rejected.
pub(crate) fn parse_duration_nanos(text: &str) -> Result<u64, DurationError> {
    if text.is_empty() {
        return Err(DurationError::Invalid);
    }
    let bytes = text.as_bytes();
    let mut pos = 0;
    let mut total: u64 = 0;
    let mut overflow = false;
    while pos < bytes.len() {
        let digits_start = pos;
        while pos < bytes.len() && bytes[pos].is_ascii_digit() {
            pos += 1;
        }
        if pos == digits_start {
            return Err(DurationError::Invalid);
        }
        let unit_start = pos;
        while pos < bytes.len() && bytes[pos].is_ascii_alphabetic() {
            pos += 1;
        }
        // Both slices are ASCII, so slicing on these byte offsets is safe.
        let digits = &text[digits_start..unit_start];
        let unit = &text[unit_start..pos];
        let Some(&(_, scale)) = UNITS.iter().find(|(name, _)| *name == unit) else {
            return Err(DurationError::Invalid);
        };
        // Keep checking the rest of the text after an overflow, so that a
        // malformed string is reported as malformed rather than too long.
        match digits
            .parse::<u64>()
            .ok()
            .and_then(|amount| amount.checked_mul(scale))
            .and_then(|nanos| total.checked_add(nanos))
        {
            Some(sum) => total = sum,
            None => overflow = true,
        }
    }
    if overflow {
        Err(DurationError::Overflow)
    } else {
        Ok(total)
    }
}

#[cfg(test)]
mod tests {
    use super::{DurationError, parse_duration_nanos};

    const SEC: u64 = 1_000_000_000;

    #[test]
    fn single_units() {
        assert_eq!(parse_duration_nanos("7ns"), Ok(7));
        assert_eq!(parse_duration_nanos("500us"), Ok(500_000));
        assert_eq!(parse_duration_nanos("100ms"), Ok(100_000_000));
        assert_eq!(parse_duration_nanos("30s"), Ok(30 * SEC));
        assert_eq!(parse_duration_nanos("2m"), Ok(120 * SEC));
        assert_eq!(parse_duration_nanos("3h"), Ok(3 * 3600 * SEC));
        assert_eq!(parse_duration_nanos("2d"), Ok(2 * 86_400 * SEC));
    }

    #[test]
    fn combined_parts_add_up() {
        assert_eq!(parse_duration_nanos("1h30m"), Ok(5400 * SEC));
        assert_eq!(parse_duration_nanos("1m30s"), Ok(90 * SEC));
        assert_eq!(parse_duration_nanos("1s500ms"), Ok(1_500_000_000));
        assert_eq!(
            parse_duration_nanos("1d2h3m4s5ms6us7ns"),
            Ok(((86_400 + 2 * 3600 + 3 * 60 + 4) * SEC) + 5_000_000 + 6_000 + 7)
        );
    }

    #[test]
    fn zero_and_leading_zeros_parse() {
        assert_eq!(parse_duration_nanos("0s"), Ok(0));
        assert_eq!(parse_duration_nanos("0ns"), Ok(0));
        assert_eq!(parse_duration_nanos("007ms"), Ok(7_000_000));
    }

    #[test]
    fn largest_value_fits() {
        assert_eq!(parse_duration_nanos("18446744073709551615ns"), Ok(u64::MAX));
        // u64::MAX nanoseconds is about 213503 days.
        assert_eq!(parse_duration_nanos("213503d"), Ok(213_503 * 86_400 * SEC));
    }

    #[test]
    fn overflow_is_rejected() {
        let over = Err(DurationError::Overflow);
        assert_eq!(parse_duration_nanos("18446744073709551616ns"), over);
        assert_eq!(parse_duration_nanos("213504d"), over);
        assert_eq!(parse_duration_nanos("99999999999999999999999s"), over);
        assert_eq!(parse_duration_nanos("213503d1d"), over);
        assert_eq!(parse_duration_nanos("18446744073709551615ns1ns"), over);
    }

    #[test]
    fn malformed_strings_are_rejected() {
        for text in [
            "", " ", "s", "10", "1h30", "10 sec", "10 s", " 10s", "10s ", "1.5s", "1,5s", "-1s", "+1s",
            "10sec", "10S", "10Ms", "10min", "10µs", "h1", "1h 30m", "1h_30m", "ms",
        ] {
            assert_eq!(
                parse_duration_nanos(text),
                Err(DurationError::Invalid),
                "{text:?} should be rejected"
            );
        }
    }

    #[test]
    fn malformed_wins_over_overflow() {
        assert_eq!(
            parse_duration_nanos("99999999999999999999999s x"),
            Err(DurationError::Invalid)
        );
    }
}

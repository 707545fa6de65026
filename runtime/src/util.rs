//! Small shared helpers: the clock and SHA-256 in hex.

/// What [`now_ms`] answers when the system clock reads before 1970: far in the future, so that
/// every token counts as expired (a broken clock fails closed), yet far from overflowing when a
/// token lifetime is added to it.
const BROKEN_CLOCK_MS: u64 = u64::MAX >> 2;

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(BROKEN_CLOCK_MS, |d| {
            u64::try_from(d.as_millis()).unwrap_or(BROKEN_CLOCK_MS)
        })
}

/// Lower-case hex SHA-256, as in `refreshTokenHash1` (the embedded core's).
#[cfg(any(feature = "embedded", feature = "postgres"))]
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes);
    digest
        .as_ref()
        .iter()
        .fold(String::with_capacity(64), |mut hex, byte| {
            let _ = write!(hex, "{byte:02x}");
            hex
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(any(feature = "embedded", feature = "postgres"))]
    fn sha256_hex_is_lower_case_hex() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn the_clock_reads_after_2020() {
        let now = now_ms();
        assert!(now > 1_577_836_800_000 && now < BROKEN_CLOCK_MS);
    }
}

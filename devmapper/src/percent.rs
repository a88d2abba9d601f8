//! Fixed-point percentages: libdevmapper's `dm_percent_t`.
//!
//! A percentage is an `i32` in millionths of a percent: [`PERCENT_1`] is one
//! percent, [`PERCENT_100`] a hundred. Two negative values are markers
//! ([`PERCENT_INVALID`], [`PERCENT_FAILED`]). [`make_percent`] never rounds a
//! value strictly between 0 and 100 % to either end.
//!
//! The functions reproduce libdevmapper's arithmetic exactly, including the
//! single-precision conversions and what the C conversion of an out-of-range
//! `double` gives on x86-64 (`INT32_MIN`).
//!
//! ```
//! use devmapper::percent::{make_percent, percent_to_float, PERCENT_100};
//! assert_eq!(make_percent(1, 4), 25_000_000);
//! assert_eq!(make_percent(999_999_999, 1_000_000_000), 99_999_999);
//! assert_eq!(make_percent(7, 7), PERCENT_100);
//! assert_eq!(percent_to_float(12_500_000), 12.5);
//! ```

/// `DM_PERCENT_0`.
pub const PERCENT_0: i32 = 0;
/// `DM_PERCENT_1`: one percent.
pub const PERCENT_1: i32 = 1_000_000;
/// `DM_PERCENT_100`.
pub const PERCENT_100: i32 = 100 * PERCENT_1;
/// `DM_PERCENT_INVALID`.
pub const PERCENT_INVALID: i32 = -1;
/// `DM_PERCENT_FAILED`.
pub const PERCENT_FAILED: i32 = -2;
/// `DM_PERCENT_CHAR`.
pub const PERCENT_CHAR: u8 = b'%';

/// `dm_percent_to_float`: the percentage as a `float` (never `-0.0`).
pub fn percent_to_float(percent: i32) -> f32 {
    percent as f32 / PERCENT_1 as f32 + 0.0
}

/// Single-precision powers of ten, 10⁰ to 10⁻¹⁰, as libdevmapper spells them.
const POWER10: [f32; 11] = [
    1.0,
    0.1,
    0.01,
    0.001,
    0.0001,
    0.00001,
    0.000001,
    0.0000001,
    0.00000001,
    0.000000001,
    0.0000000001,
];

/// `dm_percent_to_round_float`: like [`percent_to_float`], but a value
/// strictly between 0 and 100 % that would print as 0 or 100 with `digits`
/// decimals is moved to the nearest value that does not (`digits` above 10
/// counts as 10).
pub fn percent_to_round_float(percent: i32, digits: u32) -> f32 {
    let step = POWER10[(digits as usize).min(POWER10.len() - 1)];
    let r = PERCENT_1 as f32 * step;
    let p = percent as f32;
    if p < r && percent > PERCENT_0 {
        step
    } else if p > PERCENT_100 as f32 - r && percent < PERCENT_100 {
        (PERCENT_100 as f32 - r) / PERCENT_1 as f32
    } else {
        percent_to_float(percent)
    }
}

/// The C conversion of a `double` to `int32_t` as x86-64 performs it
/// (`cvttsd2si`): truncation toward zero, and `INT32_MIN` for NaN and for
/// values outside the range.
fn c_double_to_i32(d: f64) -> i32 {
    if d > -2_147_483_649.0 && d < 2_147_483_648.0 {
        d as i32
    } else {
        i32::MIN
    }
}

/// `dm_make_percent`: `numerator / denominator` as a percentage.
///
/// A zero denominator gives 100 %; a zero numerator 0 %; equal values 100 %.
/// Any other ratio that would come out as exactly 0 or 100 % is moved one
/// millionth inwards. Ratios above about 21.47 (beyond `i32`) give
/// `i32::MIN`, as libdevmapper does on x86-64.
pub fn make_percent(numerator: u64, denominator: u64) -> i32 {
    if denominator == 0 {
        return PERCENT_100;
    }
    if numerator == 0 {
        return PERCENT_0;
    }
    if numerator == denominator {
        return PERCENT_100;
    }
    let ratio = numerator as f64 / denominator as f64;
    match c_double_to_i32(f64::from(PERCENT_100) * ratio) {
        PERCENT_100 => PERCENT_100 - 1,
        PERCENT_0 => PERCENT_0 + 1,
        p => p,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Values printed by the stock library (libdevmapper 1.02.185, x86-64).
    #[test]
    fn make_percent_matches_stock() {
        let cases: &[(u64, u64, i32)] = &[
            (3, 1, 300_000_000),
            (22, 1, i32::MIN),
            (100, 1, i32::MIN),
            (21, 1, 2_100_000_000),
            (u64::MAX, 1, i32::MIN),
            (1, u64::MAX, 1),
            (1, 3, 33_333_333),
            (2, 3, 66_666_666),
            (999_999_999, 1_000_000_000, 99_999_999),
            (1, 1_000_000_000_000, 1),
            (5, 0, PERCENT_100),
            (0, 0, PERCENT_100),
            (0, 5, PERCENT_0),
            (u64::MAX - 1, u64::MAX, PERCENT_100 - 1),
        ];
        for &(n, d, want) in cases {
            assert_eq!(make_percent(n, d), want, "{n}/{d}");
        }
    }

    #[test]
    fn to_float() {
        assert_eq!(percent_to_float(0).to_bits(), 0.0f32.to_bits());
        assert_eq!(percent_to_float(-0), 0.0);
        assert_eq!(percent_to_float(PERCENT_100), 100.0);
        assert_eq!(percent_to_float(1), 1.0f32 / 1_000_000.0);
        assert_eq!(percent_to_float(PERCENT_INVALID), -1.0f32 / 1_000_000.0);
    }

    /// Bit patterns of stock's `float` results (x86-64): percentage,
    /// `dm_percent_to_float`, `dm_percent_to_round_float` for digits 0..=11.
    #[rustfmt::skip]
    const ROUND: &[(i32, u32, [u32; 12])] = &[
        (0, 0x00000000, [0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000]),
        (1, 0x358637bd, [0x3f800000, 0x3dcccccd, 0x3c23d70a, 0x3a83126f, 0x38d1b717, 0x3727c5ac, 0x358637bd, 0x358637bd, 0x358637bd, 0x358637bd, 0x358637bd, 0x358637bd]),
        (-1, 0xb58637bd, [0xb58637bd, 0xb58637bd, 0xb58637bd, 0xb58637bd, 0xb58637bd, 0xb58637bd, 0xb58637bd, 0xb58637bd, 0xb58637bd, 0xb58637bd, 0xb58637bd, 0xb58637bd]),
        (-2, 0xb60637bd, [0xb60637bd, 0xb60637bd, 0xb60637bd, 0xb60637bd, 0xb60637bd, 0xb60637bd, 0xb60637bd, 0xb60637bd, 0xb60637bd, 0xb60637bd, 0xb60637bd, 0xb60637bd]),
        (5000, 0x3ba3d70a, [0x3f800000, 0x3dcccccd, 0x3c23d70a, 0x3ba3d70a, 0x3ba3d70a, 0x3ba3d70a, 0x3ba3d70a, 0x3ba3d70a, 0x3ba3d70a, 0x3ba3d70a, 0x3ba3d70a, 0x3ba3d70a]),
        (9999, 0x3c23d2d8, [0x3f800000, 0x3dcccccd, 0x3c23d70a, 0x3c23d2d8, 0x3c23d2d8, 0x3c23d2d8, 0x3c23d2d8, 0x3c23d2d8, 0x3c23d2d8, 0x3c23d2d8, 0x3c23d2d8, 0x3c23d2d8]),
        (10000, 0x3c23d70a, [0x3f800000, 0x3dcccccd, 0x3c23d70a, 0x3c23d70a, 0x3c23d70a, 0x3c23d70a, 0x3c23d70a, 0x3c23d70a, 0x3c23d70a, 0x3c23d70a, 0x3c23d70a, 0x3c23d70a]),
        (10001, 0x3c23db3c, [0x3f800000, 0x3dcccccd, 0x3c23db3c, 0x3c23db3c, 0x3c23db3c, 0x3c23db3c, 0x3c23db3c, 0x3c23db3c, 0x3c23db3c, 0x3c23db3c, 0x3c23db3c, 0x3c23db3c]),
        (99999, 0x3dcccc47, [0x3f800000, 0x3dcccccd, 0x3dcccc47, 0x3dcccc47, 0x3dcccc47, 0x3dcccc47, 0x3dcccc47, 0x3dcccc47, 0x3dcccc47, 0x3dcccc47, 0x3dcccc47, 0x3dcccc47]),
        (100000, 0x3dcccccd, [0x3f800000, 0x3dcccccd, 0x3dcccccd, 0x3dcccccd, 0x3dcccccd, 0x3dcccccd, 0x3dcccccd, 0x3dcccccd, 0x3dcccccd, 0x3dcccccd, 0x3dcccccd, 0x3dcccccd]),
        (999999, 0x3f7fffef, [0x3f800000, 0x3f7fffef, 0x3f7fffef, 0x3f7fffef, 0x3f7fffef, 0x3f7fffef, 0x3f7fffef, 0x3f7fffef, 0x3f7fffef, 0x3f7fffef, 0x3f7fffef, 0x3f7fffef]),
        (1000000, 0x3f800000, [0x3f800000, 0x3f800000, 0x3f800000, 0x3f800000, 0x3f800000, 0x3f800000, 0x3f800000, 0x3f800000, 0x3f800000, 0x3f800000, 0x3f800000, 0x3f800000]),
        (99000001, 0x42c60000, [0x42c60000, 0x42c60000, 0x42c60000, 0x42c60000, 0x42c60000, 0x42c60000, 0x42c60000, 0x42c60000, 0x42c60000, 0x42c60000, 0x42c60000, 0x42c60000]),
        (99900000, 0x42c7cccd, [0x42c60000, 0x42c7cccd, 0x42c7cccd, 0x42c7cccd, 0x42c7cccd, 0x42c7cccd, 0x42c7cccd, 0x42c7cccd, 0x42c7cccd, 0x42c7cccd, 0x42c7cccd, 0x42c7cccd]),
        (99990000, 0x42c7fae1, [0x42c60000, 0x42c7cccd, 0x42c7fae1, 0x42c7fae1, 0x42c7fae1, 0x42c7fae1, 0x42c7fae1, 0x42c7fae1, 0x42c7fae1, 0x42c7fae1, 0x42c7fae1, 0x42c7fae1]),
        (99999000, 0x42c7ff7d, [0x42c60000, 0x42c7cccd, 0x42c7fae1, 0x42c7ff7d, 0x42c7ff7d, 0x42c7ff7d, 0x42c7ff7d, 0x42c7ff7d, 0x42c7ff7d, 0x42c7ff7d, 0x42c7ff7d, 0x42c7ff7d]),
        (99999999, 0x42c80000, [0x42c60000, 0x42c7cccd, 0x42c7fae1, 0x42c7ff7d, 0x42c7fff3, 0x42c7ffff, 0x42c80000, 0x42c80000, 0x42c80000, 0x42c80000, 0x42c80000, 0x42c80000]),
        (100000000, 0x42c80000, [0x42c80000, 0x42c80000, 0x42c80000, 0x42c80000, 0x42c80000, 0x42c80000, 0x42c80000, 0x42c80000, 0x42c80000, 0x42c80000, 0x42c80000, 0x42c80000]),
        (123456789, 0x42f6e9e1, [0x42f6e9e1, 0x42f6e9e1, 0x42f6e9e1, 0x42f6e9e1, 0x42f6e9e1, 0x42f6e9e1, 0x42f6e9e1, 0x42f6e9e1, 0x42f6e9e1, 0x42f6e9e1, 0x42f6e9e1, 0x42f6e9e1]),
        (-5, 0xb6a7c5ac, [0xb6a7c5ac, 0xb6a7c5ac, 0xb6a7c5ac, 0xb6a7c5ac, 0xb6a7c5ac, 0xb6a7c5ac, 0xb6a7c5ac, 0xb6a7c5ac, 0xb6a7c5ac, 0xb6a7c5ac, 0xb6a7c5ac, 0xb6a7c5ac]),
        (2147483647, 0x450637bd, [0x450637bd, 0x450637bd, 0x450637bd, 0x450637bd, 0x450637bd, 0x450637bd, 0x450637bd, 0x450637bd, 0x450637bd, 0x450637bd, 0x450637bd, 0x450637bd]),
        (-2147483648, 0xc50637bd, [0xc50637bd, 0xc50637bd, 0xc50637bd, 0xc50637bd, 0xc50637bd, 0xc50637bd, 0xc50637bd, 0xc50637bd, 0xc50637bd, 0xc50637bd, 0xc50637bd, 0xc50637bd]),
    ];

    #[test]
    fn float_conversions_match_stock() {
        for &(p, float, round) in ROUND {
            assert_eq!(percent_to_float(p).to_bits(), float, "to_float({p})");
            for (d, &want) in round.iter().enumerate() {
                let got = percent_to_round_float(p, d as u32).to_bits();
                assert_eq!(got, want, "to_round_float({p}, {d})");
            }
        }
        // Digits beyond the table use its last entry.
        assert_eq!(percent_to_round_float(1, 50), percent_to_round_float(1, 10));
        assert_eq!(
            percent_to_round_float(1, u32::MAX),
            percent_to_round_float(1, 10)
        );
    }
}

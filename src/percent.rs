//! `dm_make_percent`, `dm_percent_to_float`, `dm_percent_to_round_float`
//! over [`devmapper::percent`]. The `dm_percent_t` typedef, the
//! `dm_percent_range_t` enum and `DM_PERCENT_CHAR` are in
//! `src/header/families/percent.h`.

use crate::ffi::guard;
use devmapper::percent;
use std::ffi::c_uint;

/// `dm_percent_t`: a percentage in millionths of a percent.
pub type dm_percent_t = i32;

const _: () = {
    assert!(percent::PERCENT_1 == 1_000_000);
    assert!(percent::PERCENT_100 == 100_000_000);
    assert!(percent::PERCENT_INVALID == -1);
    assert!(percent::PERCENT_FAILED == -2);
};

/// `numerator / denominator` as a percentage, never rounded to exactly 0 or
/// 100 % unless it is.
#[no_mangle]
pub extern "C" fn dm_make_percent(numerator: u64, denominator: u64) -> dm_percent_t {
    guard("dm_make_percent", 0, || {
        Some(percent::make_percent(numerator, denominator))
    })
}

/// The percentage as a float.
#[no_mangle]
pub extern "C" fn dm_percent_to_float(percent: dm_percent_t) -> f32 {
    guard("dm_percent_to_float", 0.0, || {
        Some(percent::percent_to_float(percent))
    })
}

/// The percentage as a float that prints as 0 or 100 with `digits`
/// decimals only when it is exactly 0 or 100 %.
#[no_mangle]
pub extern "C" fn dm_percent_to_round_float(percent: dm_percent_t, digits: c_uint) -> f32 {
    guard("dm_percent_to_round_float", 0.0, || {
        Some(percent::percent_to_round_float(percent, digits))
    })
}

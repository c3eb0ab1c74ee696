//! Elementary functions inlined for the engines' hot loops.

/// 2^(j/64) for j = 0..64, correctly rounded (checked by a test), for [`exp`].
const EXP2_TABLE: [f64; 64] = [
    1.0,
    1.0108892860517005,
    1.0218971486541166,
    1.0330248790212284,
    1.0442737824274138,
    1.0556451783605572,
    1.0671404006768237,
    1.0787607977571199,
    1.0905077326652577,
    1.102382583307841,
    1.1143867425958924,
    1.1265216186082418,
    1.1387886347566916,
    1.1511892299529827,
    1.1637248587775775,
    1.1763969916502812,
    1.189207115002721,
    1.202156731452703,
    1.215247359980469,
    1.22848053610687,
    1.241857812073484,
    1.255380757024691,
    1.2690509571917332,
    1.2828700160787783,
    1.2968395546510096,
    1.3109612115247644,
    1.3252366431597413,
    1.339667524053303,
    1.3542555469368927,
    1.3690024229745905,
    1.383909881963832,
    1.3989796725383112,
    std::f64::consts::SQRT_2,
    1.42961333839197,
    1.4451808069770467,
    1.460917794180647,
    1.4768261459394993,
    1.4929077282912648,
    1.5091644275934228,
    1.5255981507445384,
    1.5422108254079407,
    1.559004400237837,
    1.5759808451078865,
    1.593142151342267,
    1.6104903319492543,
    1.6280274218573478,
    1.645755478153965,
    1.6636765803267364,
    1.681792830507429,
    1.7001063537185235,
    1.718619298122478,
    1.7373338352737062,
    1.7562521603732995,
    1.7753764925265212,
    1.7947090750031072,
    1.8142521755003989,
    1.8340080864093424,
    1.8539791250833855,
    1.8741676341103,
    1.8945759815869656,
    1.9152065613971474,
    1.9360617934922943,
    1.9571441241754002,
    1.978456026387951,
];

/// e^x to within a few units in the last place (4 ulps at most, checked by
/// a test), inlined: with x = (k + j/64)·ln 2 + r and |r| ≤ ln 2 / 128, e^r
/// is its Taylor series to r⁵. Deal sizes, Poisson draws, acceptance curves
/// and lead quality call it hundreds of times a trial, where libm's
/// out-of-line call dominated the engines' time.
#[inline]
pub fn exp(x: f64) -> f64 {
    if !(-708.0..=709.0).contains(&x) {
        return x.exp();
    }
    const N: f64 = 64.0;
    const INV_LN2_N: f64 = N / std::f64::consts::LN_2;
    const LN2_N_HI: f64 = 0.010_830_424_696_223_417; // ln2/64, high bits
    const LN2_N_LO: f64 = 2.572_804_622_327_669e-14; // ln2/64 − LN2_N_HI
    // Round to nearest by adding and removing 1.5·2^52 (no libm call).
    const SHIFTER: f64 = 6_755_399_441_055_744.0;
    let shifted = x * INV_LN2_N + SHIFTER;
    let kn = shifted - SHIFTER;
    let r = (x - kn * LN2_N_HI) - kn * LN2_N_LO;
    // The integer kn, read from the shifted sum's bits: its last place is
    // 1, so they differ from the shifter's by kn (no saturating cast).
    let k = shifted.to_bits().wrapping_sub(SHIFTER.to_bits()) as i64;
    // k = 64·e + j with 0 ≤ j < 64 (an arithmetic shift floors).
    let (j, e) = ((k & 63) as usize, k >> 6);
    // Degree 5 suffices (r⁶/720 < 2^−54 here); Estrin's scheme keeps the
    // dependency chain short on machines without fused multiply-add.
    let r2 = r * r;
    let p = (1.0 + r) + r2 * ((0.5 + r * (1.0 / 6.0)) + r2 * (1.0 / 24.0 + r * (1.0 / 120.0)));
    // 2^(j/64) · 2^e by adding e to its exponent (exact: every value here
    // is a normal number), then the one rounding of the product.
    let scaled = f64::from_bits(EXP2_TABLE[j].to_bits().wrapping_add((e as u64) << 52));
    scaled * p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exp_table_is_correctly_rounded_and_exp_is_accurate() {
        for (j, v) in EXP2_TABLE.iter().enumerate() {
            assert_eq!(*v, (j as f64 / 64.0).exp2(), "2^({j}/64)");
        }
        let mut worst: f64 = 0.0;
        let mut r = crate::sim::rng::stream(1, 2, 3);
        for i in 0..2_000_000 {
            let x = if i < 1_000_000 {
                (crate::dist::unit(&mut r) - 0.5) * 1400.0
            } else {
                (crate::dist::unit(&mut r) - 0.5) * 40.0
            };
            let (a, b) = (exp(x), x.exp());
            worst = worst.max(((a - b) / b).abs());
        }
        assert!(worst < 4.0 * f64::EPSILON, "worst relative error {worst:e}");
        assert_eq!(exp(0.0), 1.0);
        assert_eq!(exp(-1000.0), 0.0);
        assert!(exp(1000.0).is_infinite());
    }
}

//! Numbers for people: money, counts, shares, each one way, and the one
//! format a whole column of a table takes (so that a column never mixes
//! $908.0K, $1.24M and $4,864).

use super::{Cell, Unit};

/// An integer with thousands separators: 26,825.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A number with thousands separators and `decimals` places.
pub fn grouped(x: f64, decimals: usize) -> String {
    if !x.is_finite() {
        return "-".into();
    }
    let text = format!("{:.*}", decimals, x.abs());
    let (int, frac) = text.split_once('.').unwrap_or((&text, ""));
    let int: u64 = int.parse().unwrap_or(0);
    let negative = x < 0.0 && text.chars().any(|c| c.is_ascii_digit() && c != '0');
    let mut out = String::new();
    if negative {
        out.push('-');
    }
    out.push_str(&thousands(int));
    if !frac.is_empty() {
        out.push('.');
        out.push_str(frac);
    }
    out
}

/// Dollars in a sentence, short: $950, $12.3K, $7.50M, $1.20B.
pub fn money(x: f64) -> String {
    if !x.is_finite() {
        return "-".into();
    }
    let sign = if x <= -0.5 { "-" } else { "" };
    let a = x.abs();
    if a >= 1e9 {
        format!("{sign}${:.2}B", a / 1e9)
    } else if a >= 1e6 {
        format!("{sign}${:.2}M", a / 1e6)
    } else if a >= 1e4 {
        format!("{sign}${:.1}K", a / 1e3)
    } else {
        format!("{sign}${}", grouped(if a < 0.5 { 0.0 } else { a }, 0))
    }
}

/// A count in a sentence: 26,825 from 100 up, one decimal below (259.9
/// wins is a mean, 12.5 is not 13).
pub fn count(x: f64) -> String {
    if !x.is_finite() {
        return "-".into();
    }
    if x.abs() >= 99.95 {
        grouped(x, 0)
    } else {
        grouped(x, 1)
    }
}

/// A probability as a percentage with one decimal.
pub fn pct(p: f64) -> String {
    if !p.is_finite() {
        return "-".into();
    }
    let s = format!("{:.1}%", 100.0 * p);
    if s == "-0.0%" { "0.0%".into() } else { s }
}

/// A multiple: 3.4×.
pub fn times(x: f64) -> String {
    if !x.is_finite() {
        return "-".into();
    }
    format!("{x:.1}×")
}

/// How one column of a table is shown to people: the scale of its money,
/// the decimals of its counts.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ColumnFormat {
    Text,
    /// Dollars divided by `scale` (1, 1e3, 1e6), with this suffix and
    /// decimals.
    Money {
        scale: f64,
        suffix: &'static str,
        decimals: usize,
    },
    Count {
        decimals: usize,
    },
    Share,
    Ratio,
    Fixed {
        decimals: usize,
    },
}

impl ColumnFormat {
    /// The format of a column of cells in a unit: money in dollars below
    /// $10K, in $K up to $100M (a decimal below $100K), in $M above (a zero
    /// is `$0`), so that a table of revenue reads in one scale;
    /// counts whole from 100 up or when every one is whole.
    pub fn of(unit: Unit, cells: &[&Cell]) -> ColumnFormat {
        let max = cells
            .iter()
            .filter_map(|c| match c {
                Cell::Num(x) => Some(x.abs()),
                _ => None,
            })
            .fold(0.0, f64::max);
        let whole = cells.iter().all(|c| match c {
            Cell::Num(x) => x.fract() == 0.0,
            _ => true,
        });
        match unit {
            Unit::Text => ColumnFormat::Text,
            Unit::Money if max >= 1e8 => ColumnFormat::Money {
                scale: 1e6,
                suffix: "M",
                decimals: 1,
            },
            Unit::Money if max >= 1e4 => ColumnFormat::Money {
                scale: 1e3,
                suffix: "K",
                // Below $100K a decimal keeps the small values apart.
                decimals: if max >= 1e5 { 0 } else { 1 },
            },
            Unit::Money => ColumnFormat::Money {
                scale: 1.0,
                suffix: "",
                decimals: 0,
            },
            Unit::Count => ColumnFormat::Count {
                decimals: if max >= 99.95 || whole { 0 } else { 1 },
            },
            Unit::Share => ColumnFormat::Share,
            Unit::Ratio => ColumnFormat::Ratio,
            Unit::Weeks | Unit::Days => ColumnFormat::Fixed { decimals: 1 },
            Unit::Number(d) => ColumnFormat::Fixed {
                decimals: usize::from(d),
            },
        }
    }

    /// A cell as shown; `empty` for a missing value.
    pub fn show(&self, c: &Cell, empty: &str) -> String {
        let x = match c {
            Cell::Text(s) => return s.clone(),
            Cell::Empty => return empty.to_string(),
            Cell::Num(x) => *x,
        };
        match *self {
            ColumnFormat::Text => grouped(x, 0),
            ColumnFormat::Money { .. } if x == 0.0 => "$0".into(),
            ColumnFormat::Money {
                scale,
                suffix,
                decimals,
            } => {
                let v = x / scale;
                let body = grouped(v.abs(), decimals);
                let negative = v < 0.0 && body.chars().any(|c| c.is_ascii_digit() && c != '0');
                format!("{}${body}{suffix}", if negative { "-" } else { "" })
            }
            ColumnFormat::Count { decimals } => grouped(x, decimals),
            ColumnFormat::Share => pct(x),
            ColumnFormat::Ratio => times(x),
            ColumnFormat::Fixed { decimals } => grouped(x, decimals),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentences_read_short() {
        assert_eq!(money(950.0), "$950");
        assert_eq!(money(7_009.4), "$7,009");
        assert_eq!(money(-2_500.0), "-$2,500");
        assert_eq!(money(12_345.0), "$12.3K");
        assert_eq!(money(7_500_000.0), "$7.50M");
        assert_eq!(money(-1.2e9), "-$1.20B");
        assert_eq!(money(f64::NAN), "-");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(count(259.94), "260");
        assert_eq!(count(12.46), "12.5");
        assert_eq!(count(-4_705.2), "-4,705");
        assert_eq!(grouped(-0.04, 1), "0.0");
        assert_eq!(grouped(20301.0, 0), "20,301");
    }

    #[test]
    fn a_money_column_takes_one_scale() {
        let cells = [
            Cell::Num(908_000.0),
            Cell::Num(1_240_000.0),
            Cell::Num(4_864.0),
        ];
        let refs: Vec<&Cell> = cells.iter().collect();
        let f = ColumnFormat::of(Unit::Money, &refs);
        let shown: Vec<String> = cells.iter().map(|c| f.show(c, "-")).collect();
        assert_eq!(shown, ["$908K", "$1,240K", "$5K"]);
        let small = [Cell::Num(84.0), Cell::Num(161.4)];
        let refs: Vec<&Cell> = small.iter().collect();
        let f = ColumnFormat::of(Unit::Money, &refs);
        assert_eq!(f.show(&small[1], "-"), "$161");
        let big = [Cell::Num(13_210_000.0), Cell::Num(-360_000.0)];
        let refs: Vec<&Cell> = big.iter().collect();
        let f = ColumnFormat::of(Unit::Money, &refs);
        assert_eq!(f.show(&big[0], "-"), "$13,210K");
        assert_eq!(f.show(&big[1], "-"), "-$360K");
        let huge = [Cell::Num(132_100_000.0), Cell::Num(-360_000.0)];
        let refs: Vec<&Cell> = huge.iter().collect();
        let f = ColumnFormat::of(Unit::Money, &refs);
        assert_eq!(f.show(&huge[0], "-"), "$132.1M");
        assert_eq!(f.show(&huge[1], "-"), "-$0.4M");
        let cac = [Cell::Num(18_600.0), Cell::Num(535.0), Cell::Num(0.0)];
        let refs: Vec<&Cell> = cac.iter().collect();
        let f = ColumnFormat::of(Unit::Money, &refs);
        let shown: Vec<String> = cac.iter().map(|c| f.show(c, "-")).collect();
        assert_eq!(shown, ["$18.6K", "$0.5K", "$0"]);
    }

    #[test]
    fn a_count_column_keeps_one_decimal_place() {
        let cells = [Cell::Num(20_301.0), Cell::Num(36.3)];
        let refs: Vec<&Cell> = cells.iter().collect();
        let f = ColumnFormat::of(Unit::Count, &refs);
        assert_eq!(f.show(&cells[0], "-"), "20,301");
        assert_eq!(f.show(&cells[1], "-"), "36");
    }
}

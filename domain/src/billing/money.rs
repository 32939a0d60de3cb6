//! Amounts as people read them: minor units shown in major units with the currency code.

/// Currencies without minor units (Stripe's list): their amounts are whole units.
const ZERO_DECIMAL: &[&str] = &[
    "bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv",
    "xaf", "xof", "xpf",
];

/// `1234` in `usd` → `12.34 USD`; `-5` → `-0.05 USD`; `500` in `jpy` → `500 JPY`.
pub fn money(minor: i64, currency: &str) -> String {
    let code = currency.to_ascii_uppercase();
    if ZERO_DECIMAL.contains(&currency) {
        return format!("{minor} {code}");
    }
    let sign = if minor < 0 { "-" } else { "" };
    let abs = minor.unsigned_abs();
    format!("{sign}{}.{:02} {code}", abs / 100, abs % 100)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_is_shown_in_major_units() {
        assert_eq!(money(1234, "usd"), "12.34 USD");
        assert_eq!(money(-5, "eur"), "-0.05 EUR");
        assert_eq!(money(0, "gbp"), "0.00 GBP");
        assert_eq!(money(500, "jpy"), "500 JPY");
        assert_eq!(money(i64::MIN, "usd"), "-92233720368547758.08 USD");
    }
}

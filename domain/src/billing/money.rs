//! Currencies and amounts as people read them: ISO 4217 codes with their minor-unit
//! exponents (from `iso_currency`), and minor units shown in major units.

use iso_currency::Currency;

use crate::error::{Error, Result};

/// A lower-case ISO 4217 code of a currency with minor units (`usd`, `kwd`, `jpy`). Codes
/// ISO lists without an exponent (gold `xau`, special drawing rights `xdr`, `xxx`) are
/// refused with the rest: no amount can be billed in them.
pub fn check_currency(raw: &str) -> Result<String> {
    let code = raw.trim().to_ascii_lowercase();
    match exponent(&code) {
        Some(_) => Ok(code),
        None => Err(Error::refused(
            "invalid_currency",
            "currency",
            format!(
                "{:?} is not an ISO 4217 currency code (such as usd or eur)",
                raw.trim()
            ),
        )),
    }
}

/// How many decimals a currency's minor unit has: 2 for `usd`, 3 for `kwd`, 0 for `jpy`.
pub fn exponent(code: &str) -> Option<u32> {
    if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_lowercase()) {
        return None;
    }
    Currency::from_code(&code.to_ascii_uppercase())?
        .exponent()
        .map(u32::from)
}

/// `1234` in `usd` → `12.34 USD`; `-5` → `-0.05 USD`; `500` in `jpy` → `500 JPY`;
/// `5124` in `kwd` → `5.124 KWD`.
pub fn money(minor: i64, currency: &str) -> String {
    let code = currency.to_ascii_uppercase();
    // Stored currencies were checked; an unknown one shows with two decimals.
    let exp = exponent(currency).unwrap_or(2);
    if exp == 0 {
        return format!("{minor} {code}");
    }
    let sign = if minor < 0 { "-" } else { "" };
    let abs = minor.unsigned_abs();
    let unit = 10u64.pow(exp);
    let width = exp as usize;
    format!("{sign}{}.{:0width$} {code}", abs / unit, abs % unit)
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
        assert_eq!(money(5124, "kwd"), "5.124 KWD");
        assert_eq!(money(1005, "bhd"), "1.005 BHD");
        assert_eq!(money(-7, "tnd"), "-0.007 TND");
        assert_eq!(money(1500, "clp"), "1500 CLP");
        assert_eq!(money(i64::MIN, "usd"), "-92233720368547758.08 USD");
    }

    #[test]
    fn currencies_are_iso_4217_codes_with_minor_units() {
        assert_eq!(check_currency(" USD").ok().as_deref(), Some("usd"));
        assert_eq!(exponent("usd"), Some(2));
        assert_eq!(exponent("kwd"), Some(3));
        assert_eq!(exponent("jpy"), Some(0));
        for bad in ["us", "u5d", "xyz", "abc", "xau", "xxx", "usdd", ""] {
            match check_currency(bad) {
                Err(Error::Invalid { code, field, .. }) => {
                    assert_eq!(
                        (code, field.as_str()),
                        ("invalid_currency", "currency"),
                        "{bad}"
                    )
                }
                other => panic!("{bad:?} gave {other:?}"),
            }
        }
    }
}

//! Hosted checkout and pricing tables: what a session sells and its states, and how a
//! pricing table presents plans.

use serde::{Deserialize, Serialize};

use super::views::SubscriptionItem;
use crate::error::{Error, Result};
use crate::ids::{
    CheckoutSessionId, CustomerId, InvoiceId, PricingTableId, SubscriptionId, TaxRateId,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum CheckoutMode {
    /// Subscribe to recurring prices.
    Subscription,
    /// Pay once for one-time prices (an invoice paid at once).
    Payment,
    /// Save a payment method for later.
    Setup,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum CheckoutStatus {
    Open,
    /// Paid (or the payment method saved): it cannot be used again.
    Complete,
    /// Past `expires_at`, or expired through the API, before it completed.
    Expired,
}

/// The most a session may live, and its default: a day, as Stripe's.
pub const MAX_CHECKOUT_TTL_MS: i64 = 24 * 3600 * 1000;
/// The least: thirty minutes.
pub const MIN_CHECKOUT_TTL_MS: i64 = 30 * 60 * 1000;

/// The items a session of `mode` sells, checked for shape (the prices themselves are
/// checked against the catalog by the caller).
pub fn check_line_items(mode: CheckoutMode, items: &[SubscriptionItem]) -> Result<()> {
    match (mode, items.len()) {
        (CheckoutMode::Setup, 0) => return Ok(()),
        (CheckoutMode::Setup, _) => {
            return Err(Error::validation(
                "line_items",
                "must be empty in setup mode",
            ));
        }
        (_, 1..=20) => {}
        _ => return Err(Error::validation("line_items", "must have 1 to 20 items")),
    }
    for (i, item) in items.iter().enumerate() {
        if !(1..=10_000).contains(&item.quantity) {
            return Err(Error::validation(
                &format!("line_items[{i}].quantity"),
                "must be 1 to 10000",
            ));
        }
        if items[..i].iter().any(|o| o.price == item.price) {
            return Err(Error::validation(
                &format!("line_items[{i}].price"),
                "is listed twice",
            ));
        }
    }
    Ok(())
}

/// A published set of plans: each product with its monthly and yearly prices, one of them
/// highlighted; its buttons start checkout sessions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PricingTableConfig {
    #[cfg_attr(feature = "openapi", schema(example = "Plans"))]
    pub name: String,
    /// 1 to 4 plans, in the order shown.
    pub plans: Vec<PricingPlan>,
    /// Days of trial for subscriptions started here.
    pub trial_days: Option<i64>,
    /// Let customers enter a promotion code at checkout. Default false.
    #[serde(default)]
    pub allow_promotion_codes: bool,
    /// Where checkout sends the customer after paying; `{CHECKOUT_SESSION_ID}` is replaced.
    #[cfg_attr(
        feature = "openapi",
        schema(example = "https://app.example.com/welcome?session={CHECKOUT_SESSION_ID}")
    )]
    pub success_url: String,
    pub cancel_url: String,
    /// Sandbox only: customers who subscribe here follow this test clock.
    pub test_clock: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PricingPlan {
    /// The product (`prod_…`): its name, description and features are shown.
    pub product: String,
    /// Its monthly price (`price_…`).
    pub monthly_price: Option<String>,
    /// Its yearly price.
    pub yearly_price: Option<String>,
    /// Shown as the recommended plan. Default false.
    #[serde(default)]
    pub highlight: bool,
    /// The button's label. Default "Subscribe" (or "Start trial" with a trial).
    pub call_to_action: Option<String>,
}

impl PricingTableConfig {
    pub fn check(self) -> Result<PricingTableConfig> {
        let name = self.name.trim();
        if name.is_empty() || name.chars().count() > 100 {
            return Err(Error::validation("name", "must be 1 to 100 characters"));
        }
        if self.plans.is_empty() || self.plans.len() > 4 {
            return Err(Error::validation("plans", "must have 1 to 4 plans"));
        }
        for (i, p) in self.plans.iter().enumerate() {
            if p.monthly_price.is_none() && p.yearly_price.is_none() {
                return Err(Error::validation(
                    &format!("plans[{i}]"),
                    "needs a monthly_price, a yearly_price or both",
                ));
            }
            if p.call_to_action
                .as_ref()
                .is_some_and(|c| c.trim().is_empty() || c.chars().count() > 40)
            {
                return Err(Error::validation(
                    &format!("plans[{i}].call_to_action"),
                    "must be 1 to 40 characters",
                ));
            }
        }
        if self.plans.iter().filter(|p| p.highlight).count() > 1 {
            return Err(Error::validation(
                "plans",
                "at most one plan is highlighted",
            ));
        }
        if let Some(d) = self.trial_days
            && !(1..=730).contains(&d)
        {
            return Err(Error::validation("trial_days", "must be 1 to 730"));
        }
        Ok(self)
    }
}

/// A checkout session as the API and its events show it.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CheckoutSession {
    pub id: CheckoutSessionId,
    pub mode: CheckoutMode,
    pub status: CheckoutStatus,
    /// The page to send the customer to: given when the session is made (it holds the
    /// session's secret), null afterwards.
    pub url: Option<String>,
    /// The customer: given, or made from the email entered at checkout.
    pub customer: Option<CustomerId>,
    pub customer_email: Option<String>,
    pub line_items: Vec<SubscriptionItem>,
    #[cfg_attr(feature = "openapi", schema(example = "usd"))]
    pub currency: Option<String>,
    pub trial_days: Option<i64>,
    pub allow_promotion_codes: bool,
    /// The promotion code entered on the page.
    pub promotion_code: Option<String>,
    pub success_url: String,
    pub cancel_url: String,
    pub pricing_table: Option<PricingTableId>,
    /// What completing it made.
    pub subscription: Option<SubscriptionId>,
    pub invoice: Option<InvoiceId>,
    /// The tax rates its subscription or invoice is taxed with.
    pub tax_rates: Vec<TaxRateId>,
    #[serde(serialize_with = "crate::clock::timestamp::serialize")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub expires_at: i64,
    #[serde(serialize_with = "crate::clock::timestamp::option::serialize")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub completed_at: Option<i64>,
    #[serde(serialize_with = "crate::clock::timestamp::serialize")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created_at: i64,
}

/// A URL checkout sends the customer to, with `{CHECKOUT_SESSION_ID}` replaced.
pub fn redirect_url(template: &str, session: &str) -> String {
    template.replace("{CHECKOUT_SESSION_ID}", session)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::PriceId;

    fn item(price: &str, quantity: i64) -> SubscriptionItem {
        SubscriptionItem {
            price: PriceId::from_db(price.to_owned()),
            quantity,
        }
    }

    #[test]
    fn line_items_fit_the_mode() {
        assert!(check_line_items(CheckoutMode::Setup, &[]).is_ok());
        assert!(check_line_items(CheckoutMode::Setup, &[item("price_a", 1)]).is_err());
        assert!(check_line_items(CheckoutMode::Subscription, &[]).is_err());
        assert!(check_line_items(CheckoutMode::Payment, &[item("price_a", 0)]).is_err());
        assert!(
            check_line_items(
                CheckoutMode::Subscription,
                &[item("price_a", 1), item("price_a", 2)]
            )
            .is_err()
        );
        assert!(check_line_items(CheckoutMode::Subscription, &[item("price_a", 3)]).is_ok());
    }

    #[test]
    fn redirects_name_the_session() {
        assert_eq!(
            redirect_url("https://a.example/ok?s={CHECKOUT_SESSION_ID}", "cs_1"),
            "https://a.example/ok?s=cs_1"
        );
    }
}

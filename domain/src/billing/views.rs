//! How the API shows billing objects, in responses and in webhook events alike: a customer,
//! an invoice with its lines, discounts and taxes, a subscription, a credit note. The store
//! maps its rows to these (`From<…Row>`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::discounts::{Discount, InvoiceDiscount, InvoiceTax};
use super::invoicing::{CreditNoteReason, Line};
use super::status::{InvoiceStatus, SubscriptionStatus};
use super::subscriptions::TrialSettings;
use super::{Address, TaxId};
use crate::clock::timestamp;
use crate::ids::{
    CouponId, CreditNoteId, CustomerId, InvoiceId, PriceId, PromotionCodeId, SubscriptionId,
    TaxRateId, TestClockId,
};

#[derive(Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Customer {
    pub id: CustomerId,
    #[cfg_attr(feature = "openapi", schema(example = "Globex GmbH"))]
    pub name: Option<String>,
    #[cfg_attr(feature = "openapi", schema(example = "billing@globex.example", format = Email))]
    pub email: Option<String>,
    pub address: Option<Address>,
    pub tax_ids: Vec<TaxId>,
    pub metadata: BTreeMap<String, String>,
    /// The payment method charged by default (a provider's id, e.g. `pm_card_visa`).
    pub default_payment_method: Option<String>,
    /// The currency the customer is billed in, fixed by the first subscription or set here.
    pub currency: Option<String>,
    /// Minor units in `currency`: negative is credit applied to the next invoices, positive
    /// is owed and added to them.
    pub balance: i64,
    /// The test clock the customer's billing follows (sandbox).
    pub test_clock: Option<TestClockId>,
    /// Your own id for the customer, unique per environment; usage events may name it.
    #[cfg_attr(feature = "openapi", schema(example = "acme-corp"))]
    pub external_id: Option<String>,
    #[serde(serialize_with = "timestamp::serialize")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created_at: i64,
    #[serde(serialize_with = "timestamp::serialize")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub updated_at: i64,
}

/// One line of an invoice.
#[derive(Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InvoiceLine {
    pub price: PriceId,
    pub quantity: i64,
    /// Minor units; negative for a credit.
    pub amount: i64,
    /// A proration: the unused (credit) or remaining (charge) part of a period after a change.
    pub proration: bool,
    #[serde(serialize_with = "timestamp::serialize")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub period_start: i64,
    #[serde(serialize_with = "timestamp::serialize")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub period_end: i64,
    /// A usage line's measured usage in the period (exact decimal); `quantity` is the part
    /// billed (less the price's included quantity), rounded up to a whole unit. A usage line
    /// for a period before the invoice's own is an adjustment for usage that arrived after
    /// that period was billed: `usage` is the period's usage now, and `quantity` and
    /// `amount` are what it adds to the period's earlier lines.
    #[cfg_attr(feature = "openapi", schema(example = "12500.5"))]
    pub usage: Option<String>,
}

impl From<Line> for InvoiceLine {
    fn from(l: Line) -> Self {
        InvoiceLine {
            price: PriceId::from_db(l.price),
            quantity: l.quantity,
            amount: l.amount,
            proration: l.proration,
            period_start: l.period_start,
            period_end: l.period_end,
            usage: l.usage,
        }
    }
}

/// A discount on an invoice.
#[derive(Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InvoiceDiscountAmount {
    pub coupon: CouponId,
    pub promotion_code: Option<PromotionCodeId>,
    /// Minor units taken off.
    #[cfg_attr(feature = "openapi", schema(example = 1250))]
    pub amount: i64,
}

impl From<InvoiceDiscount> for InvoiceDiscountAmount {
    fn from(d: InvoiceDiscount) -> Self {
        InvoiceDiscountAmount {
            coupon: CouponId::from_db(d.coupon),
            promotion_code: d.promotion_code.map(PromotionCodeId::from_db),
            amount: d.amount,
        }
    }
}

/// A tax on an invoice.
#[derive(Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InvoiceTaxAmount {
    pub tax_rate: TaxRateId,
    #[cfg_attr(feature = "openapi", schema(example = "Sales tax"))]
    pub display_name: String,
    #[cfg_attr(feature = "openapi", schema(example = "8.25"))]
    pub percentage: String,
    /// Minor units taxed: the subtotal less the discount.
    #[cfg_attr(feature = "openapi", schema(example = 3749))]
    pub taxable_amount: i64,
    /// Minor units, rounded once, half away from zero.
    #[cfg_attr(feature = "openapi", schema(example = 309))]
    pub amount: i64,
}

impl From<InvoiceTax> for InvoiceTaxAmount {
    fn from(t: InvoiceTax) -> Self {
        InvoiceTaxAmount {
            tax_rate: TaxRateId::from_db(t.tax_rate),
            display_name: t.display_name,
            percentage: t.percentage,
            taxable_amount: t.taxable_amount,
            amount: t.amount,
        }
    }
}

#[derive(Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Invoice {
    pub id: InvoiceId,
    /// Sequential per organization and environment.
    #[cfg_attr(feature = "openapi", schema(example = "INV-000042"))]
    pub number: String,
    pub customer: CustomerId,
    pub subscription: Option<SubscriptionId>,
    pub status: InvoiceStatus,
    /// Why it exists: `subscription_create`, `subscription_cycle`, `subscription_update`
    /// (prorations invoiced at once) or `subscription_resume`.
    #[cfg_attr(feature = "openapi", schema(example = "subscription_cycle"))]
    pub billing_reason: String,
    #[cfg_attr(feature = "openapi", schema(example = "usd"))]
    pub currency: String,
    /// Minor units: the sum of the lines.
    pub subtotal: i64,
    /// Minor units taken off the subtotal by the subscription's discount.
    pub discount_amount: i64,
    /// Minor units of tax, on the subtotal less the discount.
    pub tax_amount: i64,
    /// The discount applied, if any (at most one).
    pub discounts: Vec<InvoiceDiscountAmount>,
    /// One entry per tax rate.
    pub taxes: Vec<InvoiceTaxAmount>,
    /// Minor units: what the invoice is worth (negative for a credit):
    /// subtotal − discount_amount + tax_amount.
    pub total: i64,
    /// The customer's balance applied at finalization (negative is credit).
    pub starting_balance: i64,
    /// Minor units charged: the total with the balance applied, never below zero.
    pub amount_due: i64,
    pub lines: Vec<InvoiceLine>,
    #[serde(serialize_with = "timestamp::serialize")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub period_start: i64,
    #[serde(serialize_with = "timestamp::serialize")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub period_end: i64,
    #[serde(serialize_with = "timestamp::serialize")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created_at: i64,
    #[serde(serialize_with = "timestamp::option::serialize")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub finalized_at: Option<i64>,
    #[serde(serialize_with = "timestamp::option::serialize")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub paid_at: Option<i64>,
    /// Payment attempts so far.
    pub attempt_count: i64,
    /// When a draft is finalized and collected, or an open invoice's next payment retry.
    #[serde(serialize_with = "timestamp::option::serialize")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub next_action_at: Option<i64>,
    /// Why the last payment attempt failed (`card_declined`, `insufficient_funds`,
    /// `payment_method_missing`…).
    pub payment_error: Option<String>,
    /// The payment provider's id of the payment.
    pub payment_reference: Option<String>,
    /// Minor units refunded through the payment provider.
    pub amount_refunded: i64,
}

/// A subscription's discount, as the API shows it.
#[derive(Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SubscriptionDiscount {
    pub coupon: CouponId,
    /// The promotion code it was redeemed with, if any.
    pub promotion_code: Option<PromotionCodeId>,
    #[serde(serialize_with = "timestamp::serialize")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub start: i64,
    /// When a `repeating` discount stops applying; null for `once` (removed after the
    /// first invoice) and `forever`.
    #[serde(serialize_with = "timestamp::option::serialize")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub end: Option<i64>,
}

impl From<Discount> for SubscriptionDiscount {
    fn from(d: Discount) -> Self {
        SubscriptionDiscount {
            coupon: CouponId::from_db(d.coupon),
            promotion_code: d.promotion_code.map(PromotionCodeId::from_db),
            start: d.start,
            end: d.end,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SubscriptionItem {
    pub price: PriceId,
    /// Units (seats…), default 1.
    #[serde(default = "one")]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, example = 5))]
    pub quantity: i64,
}

fn one() -> i64 {
    1
}

#[derive(Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Subscription {
    pub id: SubscriptionId,
    pub customer: CustomerId,
    pub status: SubscriptionStatus,
    pub items: Vec<SubscriptionItem>,
    #[cfg_attr(feature = "openapi", schema(example = "usd"))]
    pub currency: String,
    #[serde(serialize_with = "timestamp::serialize")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub billing_cycle_anchor: i64,
    #[serde(serialize_with = "timestamp::serialize")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub current_period_start: i64,
    #[serde(serialize_with = "timestamp::serialize")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub current_period_end: i64,
    #[serde(serialize_with = "timestamp::option::serialize")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub trial_end: Option<i64>,
    /// The subscription ends when the current period does.
    pub cancel_at_period_end: bool,
    pub trial_settings: TrialSettings,
    #[serde(serialize_with = "timestamp::option::serialize")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub canceled_at: Option<i64>,
    /// Why it was canceled, as given with the cancellation (`too_expensive`…).
    #[cfg_attr(feature = "openapi", schema(example = "too_expensive"))]
    pub cancellation_reason: Option<String>,
    #[serde(serialize_with = "timestamp::serialize")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created_at: i64,
    /// Prorations from changes this period, added to the next invoice.
    pub pending_lines: Vec<InvoiceLine>,
    /// The coupon taken off its invoices, if any.
    pub discount: Option<SubscriptionDiscount>,
    /// Tax rates added to its invoices (exclusive), on the discounted subtotal.
    pub default_tax_rates: Vec<TaxRateId>,
}

/// An invoice a change would make, or the next renewal's, worked out as billing will make
/// it (the customer's balance applied as at finalization) but not made: no id, no number.
#[derive(Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UpcomingInvoice {
    #[cfg_attr(feature = "openapi", schema(example = "subscription_update"))]
    pub billing_reason: String,
    #[cfg_attr(feature = "openapi", schema(example = "usd"))]
    pub currency: String,
    pub subtotal: i64,
    pub discount_amount: i64,
    pub tax_amount: i64,
    pub total: i64,
    /// The customer's balance it would take (negative is credit).
    pub starting_balance: i64,
    /// What would be charged.
    pub amount_due: i64,
    pub lines: Vec<InvoiceLine>,
    #[serde(serialize_with = "timestamp::serialize")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub period_start: i64,
    #[serde(serialize_with = "timestamp::serialize")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub period_end: i64,
    /// When it would be made (and, for a change, collected).
    #[serde(serialize_with = "timestamp::serialize")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created_at: i64,
}

#[derive(Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreditNote {
    pub id: CreditNoteId,
    /// Sequential per organization and environment.
    #[cfg_attr(feature = "openapi", schema(example = "CN-000007"))]
    pub number: String,
    pub invoice: InvoiceId,
    pub customer: CustomerId,
    #[cfg_attr(feature = "openapi", schema(example = "usd"))]
    pub currency: String,
    /// Minor units: `refund_amount` + `credit_amount`.
    pub amount: i64,
    /// Refunded through the payment provider.
    pub refund_amount: i64,
    /// Credited to the customer's balance.
    pub credit_amount: i64,
    pub reason: Option<CreditNoteReason>,
    pub memo: Option<String>,
    #[serde(serialize_with = "timestamp::serialize")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created_at: i64,
}

//! Stripe Checkout for a hosted checkout session: the order NeoForge worked out, sent as a
//! Checkout Session of inline prices (`price_data`), and what its completion took.
//!
//! NeoForge stays the billing engine. In subscription mode Stripe's own subscription only
//! takes the first payment on Stripe's familiar recurring page: once completed it is set to
//! end with its first period (`cancel_at_period_end`), and NeoForge renews with the payment
//! method it saved, so nothing is billed twice. The amounts are NeoForge's: one line per
//! order line, the tax as a line of its own, the first invoice's discount as a single-use
//! Stripe coupon, so Stripe takes exactly the first invoice's total.
//!
//! Responses other than the created session are read into the few fields used (miniserde,
//! async-stripe's own decoder): the generated types need every field of an expanded object.

use std::collections::HashMap;

use stripe::RequestStrategy;
use stripe_checkout::CheckoutSessionMode;
use stripe_checkout::checkout_session::{
    CreateCheckoutSession, CreateCheckoutSessionCustomerCreation, CreateCheckoutSessionDiscounts,
    CreateCheckoutSessionLineItems, CreateCheckoutSessionLineItemsPriceData,
    CreateCheckoutSessionLineItemsPriceDataRecurring,
    CreateCheckoutSessionLineItemsPriceDataRecurringInterval,
    CreateCheckoutSessionPaymentIntentData, CreateCheckoutSessionPaymentIntentDataSetupFutureUsage,
    CreateCheckoutSessionSetupIntentData, CreateCheckoutSessionSubscriptionData, ProductData,
};
use stripe_client_core::{RequestBuilder, StripeMethod};

use super::{
    CheckoutSession, ProviderError, StripeProvider, idempotency, provider_error, stripe_currency,
};
use domain::billing::Interval;
use domain::billing::checkout::CheckoutMode;

/// One line of what Stripe charges: a name, a quantity and its amount in minor units.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Charge {
    pub name: String,
    pub quantity: i64,
    pub amount: i64,
}

/// A hosted checkout's order, for Stripe.
#[derive(Debug)]
pub struct StripeOrder<'a> {
    /// The NeoForge checkout session (`neoforge_checkout` in every object's metadata).
    pub checkout: &'a str,
    pub mode: CheckoutMode,
    pub currency: &'a str,
    /// Each period's lines (the first one's, in payment mode).
    pub charges: Vec<Charge>,
    /// Every period's interval and count, in subscription mode.
    pub recurring: Option<(Interval, i64)>,
    /// The first invoice's discount, minor units (0: none).
    pub discount: i64,
    /// Days of trial: nothing is charged before it ends.
    pub trial_days: Option<u32>,
    /// The Stripe customer of an existing NeoForge customer; else Stripe makes one.
    pub customer: Option<&'a str>,
    pub customer_email: Option<&'a str>,
    pub success_url: &'a str,
    pub cancel_url: &'a str,
    /// Unix seconds, 30 minutes to 24 hours from now.
    pub expires_at: i64,
}

/// What a completed Checkout Session took.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completion {
    pub session: String,
    pub complete: bool,
    /// The Stripe customer (`cus_…`).
    pub customer: Option<String>,
    pub email: Option<String>,
    /// The payment method saved for later charges (`pm_…`).
    pub payment_method: Option<String>,
    /// Stripe's subscription (subscription mode).
    pub subscription: Option<String>,
    /// The PaymentIntent (payment mode) or invoice (subscription mode) that paid.
    pub reference: Option<String>,
    /// What Stripe collected, minor units.
    pub amount_total: i64,
}

#[derive(miniserde::Deserialize)]
struct Expanded {
    id: String,
    default_payment_method: Option<String>,
    payment_method: Option<String>,
}

#[derive(miniserde::Deserialize)]
struct Details {
    email: Option<String>,
}

#[derive(miniserde::Deserialize)]
struct Session {
    id: String,
    status: Option<String>,
    customer: Option<String>,
    customer_details: Option<Details>,
    subscription: Option<Expanded>,
    payment_intent: Option<Expanded>,
    setup_intent: Option<Expanded>,
    invoice: Option<String>,
    amount_total: Option<i64>,
}

#[derive(miniserde::Deserialize)]
struct Object {
    id: String,
}

#[derive(miniserde::Deserialize)]
struct Subscription {
    cancel_at_period_end: bool,
}

fn interval(i: Interval) -> CreateCheckoutSessionLineItemsPriceDataRecurringInterval {
    use CreateCheckoutSessionLineItemsPriceDataRecurringInterval as I;
    match i {
        Interval::Day => I::Day,
        Interval::Week => I::Week,
        Interval::Month => I::Month,
        Interval::Year => I::Year,
    }
}

/// A line as Stripe takes it: per unit when the amount divides evenly, else as one.
fn line_item(order: &StripeOrder<'_>, c: &Charge) -> CreateCheckoutSessionLineItems {
    let (unit_amount, quantity) = match c.quantity {
        q if q > 0 && c.amount % q == 0 => (c.amount / q, q),
        _ => (c.amount, 1),
    };
    let mut price = CreateCheckoutSessionLineItemsPriceData::new(stripe_currency(order.currency));
    price.unit_amount = Some(unit_amount);
    price.product_data = Some(ProductData::new(c.name.as_str()));
    price.recurring = order.recurring.map(|(i, count)| {
        let mut r = CreateCheckoutSessionLineItemsPriceDataRecurring::new(interval(i));
        r.interval_count = u64::try_from(count).ok();
        r
    });
    let mut item = CreateCheckoutSessionLineItems::new();
    item.price_data = Some(price);
    item.quantity = u64::try_from(quantity).ok();
    item
}

impl StripeProvider {
    /// A Checkout Session for `order`; its metadata names the NeoForge checkout.
    pub async fn checkout_session(
        &self,
        order: &StripeOrder<'_>,
    ) -> Result<CheckoutSession, ProviderError> {
        let metadata = self.metadata(&[("neoforge_checkout", order.checkout)]);
        let mode = match order.mode {
            CheckoutMode::Subscription => CheckoutSessionMode::Subscription,
            CheckoutMode::Payment => CheckoutSessionMode::Payment,
            CheckoutMode::Setup => CheckoutSessionMode::Setup,
        };
        let mut req = CreateCheckoutSession::new()
            .mode(mode)
            .success_url(order.success_url)
            .cancel_url(order.cancel_url)
            .client_reference_id(order.checkout)
            .expires_at(order.expires_at)
            .metadata(metadata.clone());
        req = match order.customer {
            Some(customer) => req.customer(customer),
            None => match order.customer_email {
                Some(email) => req.customer_email(email),
                None => req,
            },
        };
        if order.mode != CheckoutMode::Setup {
            let items: Vec<_> = order.charges.iter().map(|c| line_item(order, c)).collect();
            req = req.line_items(items);
        }
        if order.discount > 0 && order.trial_days.is_none() {
            let coupon = self.single_use_coupon(order).await?;
            let mut discount = CreateCheckoutSessionDiscounts::new();
            discount.coupon = Some(coupon);
            req = req.discounts(vec![discount]);
        }
        req = match order.mode {
            CheckoutMode::Subscription => {
                let mut data = CreateCheckoutSessionSubscriptionData::new();
                data.metadata = Some(metadata);
                data.trial_period_days = order.trial_days;
                req.subscription_data(data)
            }
            CheckoutMode::Payment => {
                let mut data = CreateCheckoutSessionPaymentIntentData::new();
                data.metadata = Some(metadata);
                data.setup_future_usage =
                    Some(CreateCheckoutSessionPaymentIntentDataSetupFutureUsage::OffSession);
                let req = req.payment_intent_data(data);
                match order.customer {
                    Some(_) => req,
                    None => req.customer_creation(CreateCheckoutSessionCustomerCreation::Always),
                }
            }
            CheckoutMode::Setup => {
                let mut data = CreateCheckoutSessionSetupIntentData::new();
                data.metadata = Some(metadata);
                req.currency(stripe_currency(order.currency))
                    .setup_intent_data(data)
                    .customer_creation(CreateCheckoutSessionCustomerCreation::Always)
            }
        };
        let session = req.send(&self.client).await.map_err(provider_error)?;
        let url = session
            .url
            .ok_or_else(|| ProviderError::Transient("Checkout Session without a url".into()))?;
        Ok(CheckoutSession {
            id: session.id.as_str().to_owned(),
            url,
        })
    }

    /// A coupon for the first invoice's discount, used once; the same order makes the same
    /// coupon (an idempotency key of the checkout and the amount).
    async fn single_use_coupon(&self, order: &StripeOrder<'_>) -> Result<String, ProviderError> {
        let form: HashMap<&str, String> = HashMap::from([
            ("amount_off", order.discount.to_string()),
            ("currency", order.currency.to_owned()),
            ("duration", "once".to_owned()),
            ("max_redemptions", "1".to_owned()),
            ("name", "Discount".to_owned()),
        ]);
        let key = format!("neoforge-coupon-{}-{}", order.checkout, order.discount);
        let coupon: Object = RequestBuilder::new(StripeMethod::Post, "/coupons")
            .form(&form)
            .customize()
            .request_strategy(idempotency(&key)?)
            .send(&self.client)
            .await
            .map_err(provider_error)?;
        Ok(coupon.id)
    }

    /// Expires a session the customer may still have open, so only the latest one can be
    /// paid. A session that is no longer open stays as it is.
    pub async fn expire_checkout_session(&self, id: &str) -> Result<(), ProviderError> {
        let result: Result<Object, _> = RequestBuilder::new(
            StripeMethod::Post,
            format!("/checkout/sessions/{id}/expire"),
        )
        .customize()
        .request_strategy(RequestStrategy::Once)
        .send(&self.client)
        .await;
        match result.map_err(provider_error) {
            Ok(_) | Err(ProviderError::Rejected { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// What a Checkout Session took, read back from Stripe with its subscription,
    /// PaymentIntent and SetupIntent expanded.
    pub async fn checkout_completion(&self, id: &str) -> Result<Completion, ProviderError> {
        let expand =
            HashMap::from([("expand", ["subscription", "payment_intent", "setup_intent"])]);
        let s: Session = RequestBuilder::new(StripeMethod::Get, format!("/checkout/sessions/{id}"))
            .query(&expand)
            .customize()
            .send(&self.client)
            .await
            .map_err(provider_error)?;
        let payment_method = s
            .subscription
            .as_ref()
            .and_then(|x| x.default_payment_method.clone())
            .or_else(|| {
                s.payment_intent
                    .as_ref()
                    .and_then(|x| x.payment_method.clone())
            })
            .or_else(|| {
                s.setup_intent
                    .as_ref()
                    .and_then(|x| x.payment_method.clone())
            });
        let reference = s
            .payment_intent
            .as_ref()
            .map(|pi| pi.id.clone())
            .or(s.invoice);
        Ok(Completion {
            session: s.id,
            complete: s.status.as_deref() == Some("complete"),
            customer: s.customer,
            email: s.customer_details.and_then(|d| d.email),
            payment_method,
            subscription: s.subscription.map(|x| x.id),
            reference,
            amount_total: s.amount_total.unwrap_or(0),
        })
    }

    /// Ends Stripe's subscription with its first period: NeoForge renews it.
    pub async fn end_with_first_period(&self, subscription: &str) -> Result<(), ProviderError> {
        let form = HashMap::from([("cancel_at_period_end", "true")]);
        let sub: Subscription =
            RequestBuilder::new(StripeMethod::Post, format!("/subscriptions/{subscription}"))
                .form(&form)
                .customize()
                .request_strategy(idempotency(&format!("neoforge-end-{subscription}"))?)
                .send(&self.client)
                .await
                .map_err(provider_error)?;
        if !sub.cancel_at_period_end {
            return Err(ProviderError::Transient(format!(
                "{subscription} still renews"
            )));
        }
        Ok(())
    }
}

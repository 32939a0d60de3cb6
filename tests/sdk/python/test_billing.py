"""A subscription's life on a sandbox test clock, through the Python SDK."""

from __future__ import annotations

import neoforge
from neoforge.models import Recurring, SubscriptionItem


def test_trial_renewal_upgrade_and_dunning(client: neoforge.Client) -> None:
    product = client.products.create(name="Team")
    monthly = Recurring(interval="month")
    basic = client.prices.create(
        product=product.id, currency="usd", model="flat", unit_amount=1000, recurring=monthly, trial_days=14
    )
    pro = client.prices.create(product=product.id, currency="usd", model="flat", unit_amount=2000, recurring=monthly)
    clock = client.test_clocks.create(name="py", frozen_time="2027-01-01T00:00:00Z")
    customer = client.customers.create(test_clock=clock.id, default_payment_method="pm_card_visa")

    sub = client.subscriptions.create(customer=customer.id, items=[SubscriptionItem(price=basic.id)])
    assert sub.status == "trialing"

    client.test_clocks.advance(clock.id, frozen_time="2027-01-16T00:00:00Z")
    first = client.invoices.list(subscription=sub.id).data
    # The first period's invoice, after the trial's paid 0.00 one.
    assert [(i.billing_reason, i.status, i.amount_due) for i in first] == [
        ("subscription_cycle", "paid", 1000),
        ("subscription_create", "paid", 0),
    ]

    # A day into a 31-day period: 30/31 of each price, rounded per line.
    client.subscriptions.update(sub.id, items=[SubscriptionItem(price=pro.id)], proration_behavior="always_invoice")
    proration = client.invoices.list(subscription=sub.id, limit=1).data[0]
    assert [(line.amount, line.proration) for line in proration.lines] == [(-968, True), (1935, True)]
    assert (proration.total, proration.status) == (967, "paid")

    client.customers.update(customer.id, default_payment_method="pm_card_chargeDeclinedInsufficientFunds")
    client.test_clocks.advance(clock.id, frozen_time="2027-02-16T00:00:00Z")
    assert client.subscriptions.get(sub.id).status == "past_due"
    client.test_clocks.advance(clock.id, frozen_time="2027-03-02T00:00:00Z")
    assert client.subscriptions.get(sub.id).status == "canceled"
    failed = client.invoices.list(subscription=sub.id, limit=1).data[0]
    assert (failed.attempt_count, failed.payment_error) == (4, "insufficient_funds")

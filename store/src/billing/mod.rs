//! Billing storage: the catalog, customers, subscriptions, invoices, discounts and credit
//! notes of one tenant and environment, a file per resource, one flat API. Portable SQL;
//! every query filters on `tenant_id` and `env`.

mod catalog;
mod checkout;
mod credit_notes;
mod customers;
mod discounts;
mod due;
mod invoices;
mod portal;
mod settings;
mod subscriptions;
mod test_clocks;

pub use catalog::*;
pub use checkout::*;
pub use credit_notes::*;
pub use customers::*;
pub use discounts::*;
pub use due::*;
pub use invoices::*;
pub use portal::*;
pub use settings::*;
pub use subscriptions::*;
pub use test_clocks::*;

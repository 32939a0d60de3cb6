//! An invoice as a PDF: one A4 page per 40 lines, in Helvetica (a standard font every
//! reader has, so nothing is embedded), text encoded as WinAnsi. The same facts as the HTML
//! invoice, in the same order.

use pdf_writer::{Content, Finish, Name, Pdf, Rect, Ref, Str};

use domain::billing::money::money;
use domain::clock::timestamp::to_rfc3339;
use store::billing::{CustomerRow, InvoiceRow};

const WIDTH: f32 = 595.0;
const HEIGHT: f32 = 842.0;
const MARGIN: f32 = 56.0;
const LINES_PER_PAGE: usize = 40;
const REGULAR: Name<'static> = Name(b"F1");
const BOLD: Name<'static> = Name(b"F2");

fn day(ms: i64) -> String {
    to_rfc3339(ms).chars().take(10).collect()
}

/// Text as WinAnsi bytes: Latin-1 as is, the few punctuation marks invoices use mapped,
/// anything else a `?`.
fn win_ansi(text: &str) -> Vec<u8> {
    text.chars()
        .map(|c| match c {
            '–' => 0x96,
            '—' => 0x97,
            '€' => 0x80,
            '’' => 0x92,
            c if (c as u32) < 0x80 || (0xA0..=0xFF).contains(&(c as u32)) => c as u32 as u8,
            _ => b'?',
        })
        .collect()
}

/// One row of the page: a label on the left, an amount on the right (if any), bold or not.
struct Row {
    label: String,
    amount: Option<String>,
    bold: bool,
}

fn row(label: impl Into<String>, amount: Option<String>, bold: bool) -> Row {
    Row {
        label: label.into(),
        amount,
        bold,
    }
}

/// The invoice's rows, top to bottom.
fn rows(invoice: &InvoiceRow, customer: &CustomerRow, brand: &str) -> Vec<Row> {
    let c = &invoice.currency;
    let mut out = vec![
        row(brand, None, true),
        row(format!("Invoice {}", invoice.number), None, true),
        row(format!("Status: {}", invoice.status), None, false),
        row(format!("Date: {}", day(invoice.created_at)), None, false),
        row(
            format!(
                "Period: {} – {}",
                day(invoice.period_start),
                day(invoice.period_end)
            ),
            None,
            false,
        ),
    ];
    let to = [customer.name.as_deref(), customer.email.as_deref()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(", ");
    out.push(row(format!("Bill to: {to}"), None, false));
    out.push(row("", None, false));
    for line in invoice.lines.iter() {
        let what = match line.proration {
            true => format!("{} × {} (prorated)", line.price, line.quantity),
            false => format!("{} × {}", line.price, line.quantity),
        };
        out.push(row(what, Some(money(line.amount, c)), false));
    }
    out.push(row("", None, false));
    out.push(row("Subtotal", Some(money(invoice.subtotal, c)), false));
    if invoice.discount_amount != 0 {
        out.push(row(
            "Discount",
            Some(money(-invoice.discount_amount, c)),
            false,
        ));
    }
    if invoice.tax_amount != 0 {
        out.push(row("Tax", Some(money(invoice.tax_amount, c)), false));
    }
    out.push(row("Total", Some(money(invoice.total, c)), true));
    if invoice.starting_balance != 0 {
        out.push(row(
            "Applied balance",
            Some(money(invoice.starting_balance, c)),
            false,
        ));
    }
    out.push(row("Amount due", Some(money(invoice.amount_due, c)), true));
    if let Some(paid) = invoice.paid_at {
        out.push(row(format!("Paid on {}", day(paid)), None, false));
    }
    out
}

pub fn render(invoice: &InvoiceRow, customer: &CustomerRow, brand: &str) -> Vec<u8> {
    let rows = rows(invoice, customer, brand);
    let pages: Vec<&[Row]> = rows.chunks(LINES_PER_PAGE).collect();
    let mut pdf = Pdf::new();
    let catalog = Ref::new(1);
    let tree = Ref::new(2);
    let regular = Ref::new(3);
    let bold = Ref::new(4);
    // Each page and its content stream: 5, 6; 7, 8; …
    let ids: Vec<(Ref, Ref)> = (0..pages.len())
        .map(|i| {
            let n = i32::try_from(5 + 2 * i).unwrap_or(i32::MAX - 1);
            (Ref::new(n), Ref::new(n + 1))
        })
        .collect();
    pdf.catalog(catalog).pages(tree);
    let count = i32::try_from(pages.len()).unwrap_or(i32::MAX);
    pdf.pages(tree)
        .kids(ids.iter().map(|(p, _)| *p))
        .count(count);
    for (font, base) in [(regular, "Helvetica"), (bold, "Helvetica-Bold")] {
        pdf.type1_font(font)
            .base_font(Name(base.as_bytes()))
            .encoding_predefined(Name(b"WinAnsiEncoding"));
    }
    for (rows, (page_id, content_id)) in pages.iter().zip(&ids) {
        let mut page = pdf.page(*page_id);
        page.media_box(Rect::new(0.0, 0.0, WIDTH, HEIGHT));
        page.parent(tree);
        page.contents(*content_id);
        page.resources()
            .fonts()
            .pair(REGULAR, regular)
            .pair(BOLD, bold);
        page.finish();
        let mut content = Content::new();
        let mut y = HEIGHT - MARGIN;
        for r in rows.iter() {
            let font = if r.bold { BOLD } else { REGULAR };
            content.begin_text();
            content.set_font(font, 11.0);
            content.next_line(MARGIN, y);
            content.show(Str(&win_ansi(&r.label)));
            content.end_text();
            if let Some(amount) = &r.amount {
                // Right-aligned, near enough: Helvetica's digits are 0.556 em wide.
                let width = 11.0 * 0.556 * amount.chars().count() as f32;
                content.begin_text();
                content.set_font(font, 11.0);
                content.next_line(WIDTH - MARGIN - width, y);
                content.show(Str(&win_ansi(amount)));
                content.end_text();
            }
            y -= 18.0;
        }
        pdf.stream(*content_id, &content.finish());
    }
    pdf.finish()
}

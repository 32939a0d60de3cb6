//! SCIM filters (RFC 7644 §3.4.2.2): `eq ne co sw ew gt ge lt le pr`, `and`, `or`, `not`,
//! parentheses and value paths (`emails[type eq "work" and value co "@x.io"]`), plus the
//! `emails[type eq "work"].value eq "…"` form some directories send. Attribute names resolve
//! against the schemas, so comparisons follow each attribute's `caseExact` and type. No IO.

use serde_json::Value;

use super::error::{ScimError, ScimResult, ScimType};
use super::resource::{attribute, split_urn};
use domain::clock::timestamp;
use domain::identity::scim_schema::{Attr, Kind, Type};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Co,
    Sw,
    Ew,
    Gt,
    Ge,
    Lt,
    Le,
}

impl Op {
    fn parse(s: &str) -> Option<Op> {
        Some(match s.to_ascii_lowercase().as_str() {
            "eq" => Op::Eq,
            "ne" => Op::Ne,
            "co" => Op::Co,
            "sw" => Op::Sw,
            "ew" => Op::Ew,
            "gt" => Op::Gt,
            "ge" => Op::Ge,
            "lt" => Op::Lt,
            "le" => Op::Le,
            _ => return None,
        })
    }
}

/// An attribute a filter reads, resolved: where it is and how it compares.
#[derive(Debug, Clone)]
pub struct Operand {
    pub container: Option<&'static str>,
    pub name: &'static str,
    pub sub: Option<&'static str>,
    case_exact: bool,
    ty: Type,
    /// A multi-valued complex attribute without a sub-attribute compares its `value`s.
    multi_complex: bool,
}

#[derive(Debug, Clone)]
pub enum Filter {
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    Not(Box<Filter>),
    Present(Operand),
    Compare(Operand, Op, Value),
    /// `attr[filter]`, true when an element matches; with `then`, that element must also
    /// satisfy it (`emails[type eq "work"].value eq "…"`).
    Where {
        attr: Operand,
        filter: Box<Filter>,
        then: Option<Box<Filter>>,
    },
    /// A comparison on an attribute the resource type does not have, in a search across
    /// types: matches nothing.
    Never,
}

/// What names in a filter resolve against.
#[derive(Clone, Copy)]
pub enum Scope {
    Resource(Kind),
    /// Inside `attr[…]`: the sub-attributes of a multi-valued attribute.
    Element(&'static Attr),
}

fn invalid(detail: impl Into<String>) -> ScimError {
    ScimError::bad(ScimType::InvalidFilter, detail)
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Open,
    Close,
    OpenBracket,
    CloseBracket,
    Str(String),
    Word(String),
}

fn tokenize(s: &str) -> ScimResult<Vec<Tok>> {
    let mut out = Vec::new();
    let mut chars = s.char_indices().peekable();
    while let Some(&(i, c)) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '(' | ')' | '[' | ']' => {
                chars.next();
                out.push(match c {
                    '(' => Tok::Open,
                    ')' => Tok::Close,
                    '[' => Tok::OpenBracket,
                    _ => Tok::CloseBracket,
                });
            }
            '"' => {
                // A JSON string: find its closing quote, honouring escapes.
                chars.next();
                let mut escaped = false;
                let mut end = None;
                for (j, d) in chars.by_ref() {
                    match (escaped, d) {
                        (false, '\\') => escaped = true,
                        (false, '"') => {
                            end = Some(j);
                            break;
                        }
                        _ => escaped = false,
                    }
                }
                let end = end.ok_or_else(|| invalid("Unterminated string in the filter."))?;
                let text: String = serde_json::from_str(&s[i..=end])
                    .map_err(|_| invalid("Malformed string in the filter."))?;
                out.push(Tok::Str(text));
            }
            _ => {
                let mut end = s.len();
                while let Some(&(j, d)) = chars.peek() {
                    if d.is_whitespace() || matches!(d, '(' | ')' | '[' | ']' | '"') {
                        end = j;
                        break;
                    }
                    chars.next();
                }
                out.push(Tok::Word(s[i..end].to_owned()));
            }
        }
    }
    Ok(out)
}

struct Parser {
    toks: Vec<Tok>,
    at: usize,
    /// Unknown attributes make `Never` instead of an error (a search across types).
    lenient: bool,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.at)
    }

    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.at).cloned();
        self.at += 1;
        t
    }

    fn keyword(&self, word: &str) -> bool {
        matches!(self.peek(), Some(Tok::Word(w)) if w.eq_ignore_ascii_case(word))
    }

    fn expect(&mut self, tok: Tok, what: &str) -> ScimResult<()> {
        if self.next() == Some(tok) {
            Ok(())
        } else {
            Err(invalid(format!("Expected {what} in the filter.")))
        }
    }

    fn or(&mut self, scope: Scope) -> ScimResult<Filter> {
        let mut left = self.and(scope)?;
        while self.keyword("or") {
            self.at += 1;
            left = Filter::Or(Box::new(left), Box::new(self.and(scope)?));
        }
        Ok(left)
    }

    fn and(&mut self, scope: Scope) -> ScimResult<Filter> {
        let mut left = self.unary(scope)?;
        while self.keyword("and") {
            self.at += 1;
            left = Filter::And(Box::new(left), Box::new(self.unary(scope)?));
        }
        Ok(left)
    }

    fn unary(&mut self, scope: Scope) -> ScimResult<Filter> {
        if self.keyword("not") {
            self.at += 1;
            self.expect(Tok::Open, "( after not")?;
            let inner = self.or(scope)?;
            self.expect(Tok::Close, ")")?;
            return Ok(Filter::Not(Box::new(inner)));
        }
        if self.peek() == Some(&Tok::Open) {
            self.at += 1;
            let inner = self.or(scope)?;
            self.expect(Tok::Close, ")")?;
            return Ok(inner);
        }
        let Some(Tok::Word(path)) = self.next() else {
            return Err(invalid("Expected an attribute name in the filter."));
        };
        if self.peek() == Some(&Tok::OpenBracket) {
            self.at += 1;
            let attr = match resolve(scope, &path) {
                Err(_) if self.lenient => return self.skip_value_path(),
                attr => attr?,
            };
            let element = element_attr(scope, &attr)?;
            let filter = self.or(Scope::Element(element))?;
            self.expect(Tok::CloseBracket, "]")?;
            // `].sub op value`: the rest of the comparison reads the matching element.
            let then = match self.peek() {
                Some(Tok::Word(w)) if w.starts_with('.') => {
                    let sub = w[1..].to_owned();
                    self.at += 1;
                    Some(Box::new(self.comparison(Scope::Element(element), &sub)?))
                }
                _ => None,
            };
            return Ok(Filter::Where {
                attr,
                filter: Box::new(filter),
                then,
            });
        }
        self.comparison(scope, &path)
    }

    /// The rest of a value path whose attribute the resource type lacks.
    fn skip_value_path(&mut self) -> ScimResult<Filter> {
        let mut depth = 1;
        while depth > 0 {
            match self.next() {
                Some(Tok::OpenBracket) => depth += 1,
                Some(Tok::CloseBracket) => depth -= 1,
                Some(_) => {}
                None => return Err(invalid("Expected ] in the filter.")),
            }
        }
        if let Some(Tok::Word(w)) = self.peek()
            && w.starts_with('.')
        {
            let sub = w.clone();
            self.at += 1;
            self.comparison_rest(&sub)?;
        }
        Ok(Filter::Never)
    }

    fn comparison(&mut self, scope: Scope, path: &str) -> ScimResult<Filter> {
        let operand = match resolve(scope, path) {
            Ok(o) => o,
            Err(_) if self.lenient => {
                self.comparison_rest(path)?;
                return Ok(Filter::Never);
            }
            Err(e) => return Err(e),
        };
        match self.comparison_rest(path)? {
            None => Ok(Filter::Present(operand)),
            Some((op, value)) => Ok(Filter::Compare(operand, op, value)),
        }
    }

    /// The operator and value after an attribute path; None for `pr`.
    fn comparison_rest(&mut self, path: &str) -> ScimResult<Option<(Op, Value)>> {
        let Some(Tok::Word(op)) = self.next() else {
            return Err(invalid(format!("Expected an operator after {path}.")));
        };
        if op.eq_ignore_ascii_case("pr") {
            return Ok(None);
        }
        let op = Op::parse(&op).ok_or_else(|| invalid(format!("Unknown operator {op}.")))?;
        let value = match self.next() {
            Some(Tok::Str(s)) => Value::String(s),
            Some(Tok::Word(w)) => serde_json::from_str::<Value>(&w)
                .ok()
                .filter(|v| v.is_boolean() || v.is_number() || v.is_null())
                .ok_or_else(|| invalid(format!("Bad comparison value {w}.")))?,
            _ => return Err(invalid(format!("Expected a value after {path}."))),
        };
        Ok(Some((op, value)))
    }
}

/// The definition whose sub-attributes a value path's filter reads.
fn element_attr(scope: Scope, operand: &Operand) -> ScimResult<&'static Attr> {
    let attr = match scope {
        Scope::Resource(kind) => attribute(kind, operand.container, operand.name)?,
        Scope::Element(_) => None,
    };
    attr.filter(|a| a.ty == Type::Complex && operand.sub.is_none())
        .ok_or_else(|| invalid(format!("{} is not a complex attribute.", operand.name)))
}

fn resolve(scope: Scope, path: &str) -> ScimResult<Operand> {
    let unknown = || invalid(format!("Unknown attribute {path}."));
    let (container, attr, sub) = match scope {
        Scope::Resource(kind) => {
            let (container, rest) = split_urn(kind, path);
            let (name, sub) = match rest.split_once('.') {
                Some((n, s)) => (n, Some(s)),
                None => (rest, None),
            };
            let attr = attribute(kind, container, name)?.ok_or_else(unknown)?;
            let sub = match sub {
                Some(s) => Some(attr.sub(s).ok_or_else(unknown)?),
                None => None,
            };
            (container, attr, sub)
        }
        Scope::Element(parent) => (None, parent.sub(path).ok_or_else(unknown)?, None),
    };
    let leaf = sub.unwrap_or(attr);
    let value_sub = (attr.ty == Type::Complex && sub.is_none())
        .then(|| attr.sub("value"))
        .flatten();
    let compared = value_sub.unwrap_or(leaf);
    Ok(Operand {
        container,
        name: attr.name.as_str(),
        sub: sub.map(|s| s.name.as_str()),
        case_exact: compared.case_exact,
        ty: compared.ty,
        multi_complex: value_sub.is_some(),
    })
}

/// Parses a filter over resources of `kind`.
pub fn parse(kind: Kind, text: &str) -> ScimResult<Filter> {
    parse_in(Scope::Resource(kind), text, false)
}

/// Parses a filter of a search across resource types, where an attribute `kind` lacks
/// matches nothing.
pub fn parse_across(kind: Kind, text: &str) -> ScimResult<Filter> {
    parse_in(Scope::Resource(kind), text, true)
}

/// Parses a filter in `scope` (a PATCH path's `[…]` reads an element's sub-attributes).
pub fn parse_in(scope: Scope, text: &str, lenient: bool) -> ScimResult<Filter> {
    let mut p = Parser {
        toks: tokenize(text)?,
        at: 0,
        lenient,
    };
    let f = p.or(scope)?;
    if p.peek().is_some() {
        return Err(invalid("Unexpected text at the end of the filter."));
    }
    Ok(f)
}

impl Filter {
    /// Whether a rendered resource (or, in an element scope, an element) matches.
    pub fn matches(&self, obj: &Value) -> bool {
        match self {
            Filter::And(a, b) => a.matches(obj) && b.matches(obj),
            Filter::Or(a, b) => a.matches(obj) || b.matches(obj),
            Filter::Not(f) => !f.matches(obj),
            Filter::Present(o) => values(obj, o).iter().any(|v| {
                !(v.is_null() || v.as_str() == Some("") || v.as_array().is_some_and(Vec::is_empty))
            }),
            Filter::Compare(o, Op::Ne, lit) => {
                !values(obj, o).iter().any(|v| compare(o, Op::Eq, v, lit))
            }
            Filter::Compare(o, op, lit) => values(obj, o).iter().any(|v| compare(o, *op, v, lit)),
            Filter::Never => false,
            Filter::Where { attr, filter, then } => elements(obj, attr)
                .iter()
                .any(|e| filter.matches(e) && then.as_ref().is_none_or(|t| t.matches(e))),
        }
    }

    /// `attr eq "value"` on a plain top-level attribute: what a lookup by an indexed column
    /// can answer, and what a PATCH can create when its value path matches nothing.
    pub fn equality(&self) -> Option<(&'static str, &Value)> {
        match self {
            Filter::Compare(o, Op::Eq, v)
                if o.container.is_none() && o.sub.is_none() && !o.multi_complex =>
            {
                Some((o.name, v))
            }
            _ => None,
        }
    }
}

fn elements<'v>(obj: &'v Value, o: &Operand) -> Vec<&'v Value> {
    let base = match o.container {
        Some(urn) => obj.get(urn),
        None => Some(obj),
    };
    match base.and_then(|b| b.get(o.name)) {
        Some(Value::Array(items)) => items.iter().collect(),
        Some(v) => vec![v],
        None => Vec::new(),
    }
}

fn values<'v>(obj: &'v Value, o: &Operand) -> Vec<&'v Value> {
    let items = elements(obj, o);
    let sub = o.sub.or(o.multi_complex.then_some("value"));
    match sub {
        None => items,
        Some(s) => items.into_iter().filter_map(|i| i.get(s)).collect(),
    }
}

fn compare(o: &Operand, op: Op, v: &Value, lit: &Value) -> bool {
    use std::cmp::Ordering;
    let ordering = match (v, lit) {
        (Value::String(a), Value::String(b)) if o.ty == Type::DateTime => {
            match (timestamp::parse_rfc3339(a), timestamp::parse_rfc3339(b)) {
                (Some(a), Some(b)) => Some(a.cmp(&b)),
                _ => None,
            }
        }
        (Value::String(a), Value::String(b)) => {
            let (a, b) = if o.case_exact {
                (a.clone(), b.clone())
            } else {
                (a.to_lowercase(), b.to_lowercase())
            };
            return match op {
                Op::Eq => a == b,
                Op::Ne => a != b,
                Op::Co => a.contains(&b),
                Op::Sw => a.starts_with(&b),
                Op::Ew => a.ends_with(&b),
                Op::Gt => a > b,
                Op::Ge => a >= b,
                Op::Lt => a < b,
                Op::Le => a <= b,
            };
        }
        (Value::Number(a), Value::Number(b)) => a
            .as_f64()
            .zip(b.as_f64())
            .and_then(|(a, b)| a.partial_cmp(&b)),
        (Value::Bool(a), Value::Bool(b)) => return matches!(op, Op::Eq) == (a == b),
        _ => None,
    };
    let Some(ord) = ordering else { return false };
    match op {
        Op::Eq => ord == Ordering::Equal,
        Op::Ne => ord != Ordering::Equal,
        Op::Gt => ord == Ordering::Greater,
        Op::Ge => ord != Ordering::Less,
        Op::Lt => ord == Ordering::Less,
        Op::Le => ord != Ordering::Greater,
        Op::Co | Op::Sw | Op::Ew => false,
    }
}

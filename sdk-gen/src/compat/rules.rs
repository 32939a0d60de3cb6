//! The catalogue of rules: a stable id and a fixed severity each.
//!
//! Severity follows the direction of the data. A request schema that accepts fewer values
//! breaks clients; a response schema that may hold more values (or lacks one it promised)
//! breaks clients. So most schema rules come in a `request-` and a `response-` flavour.
//! This API rejects unknown request fields (`unknown_parameter`), so removing an optional
//! request property or parameter is a warning: only clients that still send it fail.

use super::change::Severity::{self, Breaking, Info, Warning};

/// A kind of change and how bad it is.
#[derive(Debug, PartialEq, Eq)]
pub struct Rule {
    /// Stable kebab-case id.
    pub id: &'static str,
    pub severity: Severity,
    pub summary: &'static str,
}

macro_rules! rules {
    ($($name:ident: $id:literal, $severity:ident, $summary:literal;)*) => {
        $(pub const $name: Rule = Rule { id: $id, severity: $severity, summary: $summary };)*
        /// Every rule the checker applies.
        pub const ALL: &[Rule] = &[$($name),*];
    };
}

rules! {
    PATH_REMOVED: "path-removed", Breaking, "A path and all its operations were removed.";
    OPERATION_REMOVED: "operation-removed", Breaking, "An operation was removed from a path.";
    OPERATION_ADDED: "operation-added", Info, "A new operation.";
    OPERATION_ID_CHANGED: "operation-id-changed", Breaking, "The operationId, which names SDK methods, changed.";
    OPERATION_DEPRECATED: "operation-deprecated", Info, "An operation was marked deprecated.";
    SECURITY_CHANGED: "security-changed", Breaking, "A way of authenticating that used to work no longer does.";
    SECURITY_RELAXED: "security-relaxed", Info, "Security changed, but every former way of authenticating still works.";

    REQUIRED_PARAMETER_REMOVED: "required-parameter-removed", Breaking, "A required parameter was removed (or renamed or moved): every client sends it.";
    PARAMETER_REMOVED: "parameter-removed", Warning, "An optional parameter was removed (or renamed or moved): clients that send it are rejected.";
    REQUIRED_PARAMETER_ADDED: "required-parameter-added", Breaking, "A new required parameter.";
    PARAMETER_ADDED: "parameter-added", Info, "A new optional parameter.";
    PARAMETER_BECAME_REQUIRED: "parameter-became-required", Breaking, "An optional parameter became required.";
    PARAMETER_BECAME_OPTIONAL: "parameter-became-optional", Info, "A required parameter became optional.";

    REQUEST_BODY_REMOVED: "request-body-removed", Breaking, "The operation no longer takes a request body.";
    REQUIRED_REQUEST_BODY_ADDED: "required-request-body-added", Breaking, "A new required request body.";
    REQUEST_BODY_ADDED: "request-body-added", Info, "A new optional request body.";
    REQUEST_BODY_BECAME_REQUIRED: "request-body-became-required", Breaking, "The request body became required.";
    REQUEST_BODY_BECAME_OPTIONAL: "request-body-became-optional", Info, "The request body became optional.";
    REQUEST_MEDIA_TYPE_REMOVED: "request-media-type-removed", Breaking, "A request content type is no longer accepted.";
    REQUEST_MEDIA_TYPE_ADDED: "request-media-type-added", Info, "A new accepted request content type.";

    SUCCESS_RESPONSE_REMOVED: "success-response-removed", Breaking, "A 2xx response status was removed.";
    SUCCESS_RESPONSE_ADDED: "success-response-added", Warning, "A new 2xx response status that clients may not expect.";
    ERROR_RESPONSE_REMOVED: "error-response-removed", Info, "A documented non-2xx response was removed.";
    ERROR_RESPONSE_ADDED: "error-response-added", Info, "A newly documented non-2xx response.";
    RESPONSE_MEDIA_TYPE_REMOVED: "response-media-type-removed", Breaking, "A response content type is no longer produced.";
    RESPONSE_MEDIA_TYPE_ADDED: "response-media-type-added", Info, "A new response content type.";

    TYPE_CHANGED: "type-changed", Breaking, "A schema's type changed.";
    FORMAT_CHANGED: "format-changed", Breaking, "A schema's format changed, added or removed.";
    DEFAULT_CHANGED: "default-changed", Warning, "A default value changed: omitting the field now means something else.";

    REQUIRED_REQUEST_PROPERTY_REMOVED: "required-request-property-removed", Breaking, "A required request property was removed (or renamed): every client sends it.";
    REQUEST_PROPERTY_REMOVED: "request-property-removed", Warning, "An optional request property was removed (or renamed): clients that send it are rejected.";
    REQUIRED_REQUEST_PROPERTY_ADDED: "required-request-property-added", Breaking, "A new required request property.";
    REQUEST_PROPERTY_ADDED: "request-property-added", Info, "A new optional request property.";
    REQUEST_PROPERTY_BECAME_REQUIRED: "request-property-became-required", Breaking, "An optional request property became required.";
    REQUEST_PROPERTY_BECAME_OPTIONAL: "request-property-became-optional", Info, "A required request property became optional.";
    RESPONSE_PROPERTY_REMOVED: "response-property-removed", Breaking, "A response property was removed (or renamed).";
    RESPONSE_PROPERTY_ADDED: "response-property-added", Info, "A new response property.";
    RESPONSE_PROPERTY_BECAME_OPTIONAL: "response-property-became-optional", Breaking, "A response property is no longer always present.";
    RESPONSE_PROPERTY_BECAME_REQUIRED: "response-property-became-required", Info, "A response property is now always present.";

    REQUEST_BECAME_NULLABLE: "request-became-nullable", Info, "A request value now accepts null.";
    REQUEST_BECAME_NON_NULLABLE: "request-became-non-nullable", Breaking, "A request value no longer accepts null.";
    RESPONSE_BECAME_NULLABLE: "response-became-nullable", Breaking, "A response value may now be null.";
    RESPONSE_BECAME_NON_NULLABLE: "response-became-non-nullable", Info, "A response value is never null any more.";

    REQUEST_ENUM_VALUE_REMOVED: "request-enum-value-removed", Breaking, "A request enum value is no longer accepted.";
    REQUEST_ENUM_VALUE_ADDED: "request-enum-value-added", Info, "A request enum accepts a new value.";
    RESPONSE_ENUM_VALUE_ADDED: "response-enum-value-added", Warning, "A response enum may hold a new value that clients must tolerate.";
    RESPONSE_ENUM_VALUE_REMOVED: "response-enum-value-removed", Info, "A response enum no longer holds a value.";

    REQUEST_CONSTRAINT_TIGHTENED: "request-constraint-tightened", Breaking, "A request value accepts less: a lower maximum, a higher minimum, a new or changed pattern, a new enum...";
    REQUEST_CONSTRAINT_RELAXED: "request-constraint-relaxed", Info, "A request value accepts more.";
    RESPONSE_CONSTRAINT_CHANGED: "response-constraint-changed", Info, "A documented constraint of a response value changed.";

    REQUEST_VARIANT_REMOVED: "request-variant-removed", Breaking, "A oneOf/anyOf alternative is no longer accepted in a request.";
    REQUEST_VARIANT_ADDED: "request-variant-added", Info, "A request accepts a new oneOf/anyOf alternative.";
    RESPONSE_VARIANT_ADDED: "response-variant-added", Warning, "A response may hold a new oneOf/anyOf alternative.";
    RESPONSE_VARIANT_REMOVED: "response-variant-removed", Info, "A response no longer holds a oneOf/anyOf alternative.";
}

/// Which way data flows through a schema.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    Request,
    Response,
}

impl Direction {
    pub fn pick<T>(self, request: T, response: T) -> T {
        match self {
            Direction::Request => request,
            Direction::Response => response,
        }
    }
}

/// The rules for a member that may be required: a parameter, a property, a request body.
pub struct MemberRules {
    pub removed_required: &'static Rule,
    pub removed_optional: &'static Rule,
    pub added_required: &'static Rule,
    pub added_optional: &'static Rule,
    pub became_required: &'static Rule,
    pub became_optional: &'static Rule,
}

pub const PARAMETER: MemberRules = MemberRules {
    removed_required: &REQUIRED_PARAMETER_REMOVED,
    removed_optional: &PARAMETER_REMOVED,
    added_required: &REQUIRED_PARAMETER_ADDED,
    added_optional: &PARAMETER_ADDED,
    became_required: &PARAMETER_BECAME_REQUIRED,
    became_optional: &PARAMETER_BECAME_OPTIONAL,
};

pub const REQUEST_BODY: MemberRules = MemberRules {
    removed_required: &REQUEST_BODY_REMOVED,
    removed_optional: &REQUEST_BODY_REMOVED,
    added_required: &REQUIRED_REQUEST_BODY_ADDED,
    added_optional: &REQUEST_BODY_ADDED,
    became_required: &REQUEST_BODY_BECAME_REQUIRED,
    became_optional: &REQUEST_BODY_BECAME_OPTIONAL,
};

pub const REQUEST_PROPERTY: MemberRules = MemberRules {
    removed_required: &REQUIRED_REQUEST_PROPERTY_REMOVED,
    removed_optional: &REQUEST_PROPERTY_REMOVED,
    added_required: &REQUIRED_REQUEST_PROPERTY_ADDED,
    added_optional: &REQUEST_PROPERTY_ADDED,
    became_required: &REQUEST_PROPERTY_BECAME_REQUIRED,
    became_optional: &REQUEST_PROPERTY_BECAME_OPTIONAL,
};

/// Whether a response property is required decides only whether it may go missing.
pub const RESPONSE_PROPERTY: MemberRules = MemberRules {
    removed_required: &RESPONSE_PROPERTY_REMOVED,
    removed_optional: &RESPONSE_PROPERTY_REMOVED,
    added_required: &RESPONSE_PROPERTY_ADDED,
    added_optional: &RESPONSE_PROPERTY_ADDED,
    became_required: &RESPONSE_PROPERTY_BECAME_REQUIRED,
    became_optional: &RESPONSE_PROPERTY_BECAME_OPTIONAL,
};

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn ids_are_unique_kebab_case() {
        let mut seen = HashSet::new();
        for rule in ALL {
            assert!(seen.insert(rule.id), "duplicate rule id {}", rule.id);
            let kebab = rule.id.split('-').all(|w| {
                !w.is_empty()
                    && w.bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            });
            assert!(kebab, "{} is not kebab-case", rule.id);
        }
    }
}

//! The federation's fixed vocabularies — what an alert is, how far it has got, where it came
//! from, how a notification travels — and the alert lifecycle as a pure function.
//!
//! Each word is stored and sent as its kebab-case spelling (`as_str`), parsed back with
//! `FromStr` (an unknown word is an error naming the vocabulary), and serialised by serde the
//! same way, so a JSON field, a database column and a form value all say the same thing.

use serde::{Deserialize, Serialize};

/// Declares a closed vocabulary: the enum, `ALL`, `as_str`, `Display` and `FromStr`.
macro_rules! vocabulary {
    (
        $(#[$meta:meta])*
        $name:ident ($what:literal) { $( $(#[$vmeta:meta])* $variant:ident = $word:literal, )+ }
    ) => {
        $(#[$meta])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
            schemars::JsonSchema,
        )]
        pub enum $name {
            $( $(#[$vmeta])* #[serde(rename = $word)] $variant, )+
        }

        impl $name {
            /// Every word of the vocabulary, in its order.
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            /// The word as stored and sent.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $word,)+
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                Self::ALL
                    .iter()
                    .copied()
                    .find(|v| v.as_str() == s)
                    .ok_or_else(|| {
                        let words: Vec<&str> = Self::ALL.iter().map(|v| v.as_str()).collect();
                        format!("{} {s:?} is not one of {}", $what, words.join(", "))
                    })
            }
        }
    };
}

vocabulary! {
    /// What an alert is about.
    AlertKind ("alert kind") {
        /// A vulnerability in the member's inventory (or possibly in it: see [`AlertExposure`]).
        Vulnerability = "vulnerability",
        /// Something a member's hunt sighted in its own logs.
        PossibleCompromise = "possible-compromise",
    }
}

vocabulary! {
    /// How a notification channel's deliveries go, coarsely (what every member role may see).
    DeliveryState ("delivery state") {
        /// Nothing was ever queued for the channel.
        Idle = "idle",
        /// Everything queued was delivered.
        Delivered = "delivered",
        /// Notifications wait for their first attempt.
        Pending = "pending",
        /// The newest waiting notification failed and is being retried.
        Failing = "failing",
        /// The destination is one Ward may not connect to (`ward serve --allow-targets`).
        Refused = "refused",
    }
}

vocabulary! {
    /// How far an alert has got. `withdrawn`: Ward no longer believes the member affected
    /// because the knowledge changed (no source now calls its components affected); not a
    /// remediation, nothing was patched. Possible-compromise alerts (incidents) go their own
    /// way: `open → triaged → confirmed → contained → closed`, or `false-positive`. `triaged`:
    /// someone has looked at it (an incident's acknowledgement); `confirmed`: it is a
    /// compromise; `contained`: the attacker's access is cut off; `closed`: over (contained and
    /// cleaned up, or triaged as no compromise); `false-positive`: not an attack, with the
    /// reason. (No comments on the words themselves: the API's schema stays a plain `enum`.)
    AlertState ("alert state") {
        Open = "open",
        Acknowledged = "acknowledged",
        Remediated = "remediated",
        RiskAccepted = "risk-accepted",
        NotAffected = "not-affected",
        Withdrawn = "withdrawn",
        Triaged = "triaged",
        Confirmed = "confirmed",
        Contained = "contained",
        Closed = "closed",
        FalsePositive = "false-positive",
    }
}

vocabulary! {
    /// How a resolved alert ended: a fact with a cause. Only [`Resolution::Inventory`] and
    /// [`Resolution::Statement`] are remediations.
    Resolution ("resolution") {
        /// An uploaded inventory no longer has the vulnerable component (patched or removed).
        Inventory = "inventory",
        /// The member said it is remediated (an alert with no findings to go by).
        Statement = "statement",
        /// The member declared it not affected, with a VEX justification.
        NotAffected = "not-affected",
        /// The member accepted the risk until a date.
        RiskAccepted = "risk-accepted",
        /// The knowledge changed and no longer calls the member's components affected.
        Withdrawn = "withdrawn",
        /// An incident closed by the member.
        Closed = "closed",
        /// An incident the member found to be a false positive.
        FalsePositive = "false-positive",
    }
}

impl Resolution {
    /// Whether this ending counts as remediated (in compliance and scorecards).
    pub fn is_remediation(self) -> bool {
        matches!(self, Self::Inventory | Self::Statement)
    }
}

vocabulary! {
    /// Where a vulnerability alert came from.
    AlertOrigin ("alert origin") {
        /// A finding reached the policy's alert threshold.
        Automatic = "automatic",
        /// A central analyst issued it.
        Issued = "issued",
    }
}

vocabulary! {
    /// What Ward knows of a member's exposure to an alert's vulnerability.
    AlertExposure ("alert exposure") {
        /// The member's inventory has the vulnerable product at an affected version.
        Affected = "affected",
        /// The inventory says nothing about the product: the member is asked to confirm.
        ConfirmExposure = "confirm-exposure",
    }
}

vocabulary! {
    /// How a notification channel delivers.
    ChannelKind ("channel kind") {
        /// HTTPS POST, signed with HMAC-SHA256.
        Webhook = "webhook",
        /// RFC 5424 over UDP or TCP.
        Syslog = "syslog",
        /// E-mail through the server's SMTP relay.
        Email = "email",
    }
}

vocabulary! {
    /// What a member (or the central team for it) does with an alert.
    AlertAction ("alert action") {
        Acknowledge = "acknowledge",
        Remediate = "remediate",
        AcceptRisk = "accept-risk",
        NotAffected = "not-affected",
        /// Incidents: someone has looked at it (an incident's acknowledgement).
        Triage = "triage",
        /// Incidents: it is a compromise.
        Confirm = "confirm",
        /// Incidents: the compromise is contained.
        Contain = "contain",
        /// Incidents: over.
        Close = "close",
        /// Incidents: not an attack.
        FalsePositive = "false-positive",
    }
}

impl AlertState {
    /// Closed: nothing more is asked of the member (until the alert is reopened).
    pub fn is_resolved(self) -> bool {
        matches!(
            self,
            Self::Remediated
                | Self::RiskAccepted
                | Self::NotAffected
                | Self::Withdrawn
                | Self::Closed
                | Self::FalsePositive
        )
    }

    /// Past acknowledgement (or triage) and not yet resolved: what awaits remediation (or
    /// containment and closing).
    pub fn is_in_hand(self) -> bool {
        matches!(
            self,
            Self::Acknowledged | Self::Triaged | Self::Confirmed | Self::Contained
        )
    }
}

impl AlertAction {
    /// The actions that belong to incidents (possible-compromise alerts) only.
    pub fn is_incident_action(self) -> bool {
        matches!(
            self,
            Self::Triage | Self::Confirm | Self::Contain | Self::Close | Self::FalsePositive
        )
    }
}

/// Why an action is refused in the alert's present state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The action does not apply to this kind of alert (risk or VEX on a sighting, containment
    /// of a vulnerability).
    #[error("{action} applies to {}; this is a {kind} alert", if action.is_incident_action() { "possible-compromise alerts (incidents)" } else { "vulnerability alerts" })]
    WrongKind {
        action: AlertAction,
        kind: AlertKind,
    },
    /// The alert is already past the point the action belongs to.
    #[error("the alert is {state}: it cannot be {}", past(*.action))]
    WrongState {
        action: AlertAction,
        state: AlertState,
    },
}

fn past(action: AlertAction) -> &'static str {
    match action {
        AlertAction::Acknowledge => "acknowledged",
        AlertAction::Remediate => "remediated",
        AlertAction::AcceptRisk => "risk-accepted",
        AlertAction::NotAffected => "declared not affected",
        AlertAction::Triage => "triaged",
        AlertAction::Confirm => "confirmed",
        AlertAction::Contain => "contained",
        AlertAction::Close => "closed",
        AlertAction::FalsePositive => "called a false positive",
    }
}

/// The alert lifecycle: the state an alert of `kind` in `state` moves to when a member takes
/// `action`, or why it may not.
///
/// Vulnerability alerts:
/// ```text
/// open ──acknowledge──> acknowledged
///   │                        │
///   └──────┬─────────────────┘
///          ├─remediate────> remediated
///          ├─accept-risk──> risk-accepted
///          └─not-affected─> not-affected
/// ```
/// Possible-compromise alerts (incidents); `acknowledge` is `triage`:
/// ```text
/// open ─triage─> triaged ─confirm─> confirmed ─contain─> contained ─close─> closed
///   │               │  └──────────────────close (no compromise)──────────────┘
///   └─confirm───────┼─> confirmed
///   open, triaged, confirmed ──false-positive──> false-positive
/// ```
/// Ward itself moves alerts too (a finding that comes back reopens, an expired acceptance
/// reopens, a patched inventory remediates, a new sighting reopens a closed incident); those
/// moves are the store's, with their causes.
pub fn transition(
    kind: AlertKind,
    state: AlertState,
    action: AlertAction,
) -> Result<AlertState, Refusal> {
    use AlertAction as A;
    use AlertState as S;
    match kind {
        AlertKind::Vulnerability => {
            if action.is_incident_action() {
                return Err(Refusal::WrongKind { action, kind });
            }
            match (state, action) {
                (S::Open, A::Acknowledge) => Ok(S::Acknowledged),
                (S::Open | S::Acknowledged, A::Remediate) => Ok(S::Remediated),
                (S::Open | S::Acknowledged, A::AcceptRisk) => Ok(S::RiskAccepted),
                (S::Open | S::Acknowledged, A::NotAffected) => Ok(S::NotAffected),
                (state, action) => Err(Refusal::WrongState { action, state }),
            }
        }
        AlertKind::PossibleCompromise => {
            if matches!(action, A::Remediate | A::AcceptRisk | A::NotAffected) {
                return Err(Refusal::WrongKind { action, kind });
            }
            match (state, action) {
                (S::Open, A::Acknowledge | A::Triage) => Ok(S::Triaged),
                (S::Open | S::Triaged, A::Confirm) => Ok(S::Confirmed),
                (S::Confirmed, A::Contain) => Ok(S::Contained),
                (S::Triaged | S::Contained, A::Close) => Ok(S::Closed),
                (S::Open | S::Triaged | S::Confirmed, A::FalsePositive) => Ok(S::FalsePositive),
                (state, action) => Err(Refusal::WrongState { action, state }),
            }
        }
    }
}

/// How soon a possible compromise (a sighting in a member's logs) must be triaged and, once
/// confirmed, contained: the policy's `[incidents]` table (read by
/// `ward_priority`, counted with by the store). The `exploited_` windows apply when
/// the thing sighted exploits a vulnerability CISA lists as known exploited, or one still open
/// at the member (an exploit attempt against something still vulnerable).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IncidentWindows {
    /// Default 24 hours.
    pub triage: chrono::Duration,
    /// Default 7 days.
    pub contain: chrono::Duration,
    /// Default 4 hours.
    pub exploited_triage: chrono::Duration,
    /// Default 72 hours.
    pub exploited_contain: chrono::Duration,
}

impl Default for IncidentWindows {
    fn default() -> Self {
        Self {
            triage: chrono::Duration::hours(24),
            contain: chrono::Duration::days(7),
            exploited_triage: chrono::Duration::hours(4),
            exploited_contain: chrono::Duration::hours(72),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every (kind, state, action): the lifecycle as a table.
    #[test]
    fn the_lifecycle_table() {
        use AlertAction as A;
        use AlertKind as K;
        use AlertState as S;
        let ok = |s| Ok::<_, ()>(s);
        let no = Err::<AlertState, ()>(());
        #[rustfmt::skip]
        let table = [
            // kind, state, action → outcome
            (K::Vulnerability, S::Open, A::Acknowledge, ok(S::Acknowledged)),
            (K::Vulnerability, S::Open, A::Remediate, ok(S::Remediated)),
            (K::Vulnerability, S::Open, A::AcceptRisk, ok(S::RiskAccepted)),
            (K::Vulnerability, S::Open, A::NotAffected, ok(S::NotAffected)),
            (K::Vulnerability, S::Acknowledged, A::Acknowledge, no),
            (K::Vulnerability, S::Acknowledged, A::Remediate, ok(S::Remediated)),
            (K::Vulnerability, S::Acknowledged, A::AcceptRisk, ok(S::RiskAccepted)),
            (K::Vulnerability, S::Acknowledged, A::NotAffected, ok(S::NotAffected)),
            (K::Vulnerability, S::Open, A::Triage, no),
            (K::Vulnerability, S::Acknowledged, A::Contain, no),
            (K::Vulnerability, S::Open, A::FalsePositive, no),
            (K::PossibleCompromise, S::Open, A::Acknowledge, ok(S::Triaged)),
            (K::PossibleCompromise, S::Open, A::Triage, ok(S::Triaged)),
            (K::PossibleCompromise, S::Open, A::Confirm, ok(S::Confirmed)),
            (K::PossibleCompromise, S::Open, A::Contain, no),
            (K::PossibleCompromise, S::Open, A::Close, no),
            (K::PossibleCompromise, S::Open, A::FalsePositive, ok(S::FalsePositive)),
            (K::PossibleCompromise, S::Open, A::Remediate, no),
            (K::PossibleCompromise, S::Open, A::AcceptRisk, no),
            (K::PossibleCompromise, S::Open, A::NotAffected, no),
            (K::PossibleCompromise, S::Triaged, A::Triage, no),
            (K::PossibleCompromise, S::Triaged, A::Confirm, ok(S::Confirmed)),
            (K::PossibleCompromise, S::Triaged, A::Close, ok(S::Closed)),
            (K::PossibleCompromise, S::Triaged, A::FalsePositive, ok(S::FalsePositive)),
            (K::PossibleCompromise, S::Confirmed, A::Close, no),
            (K::PossibleCompromise, S::Confirmed, A::Contain, ok(S::Contained)),
            (K::PossibleCompromise, S::Confirmed, A::FalsePositive, ok(S::FalsePositive)),
            (K::PossibleCompromise, S::Contained, A::Close, ok(S::Closed)),
            (K::PossibleCompromise, S::Contained, A::FalsePositive, no),
            (K::PossibleCompromise, S::Contained, A::Confirm, no),
        ];
        for (kind, state, action, want) in table {
            assert_eq!(
                transition(kind, state, action).map_err(|_| ()),
                want,
                "{kind} alert, {state}, {action}"
            );
        }
        // A resolved alert takes no action at all, whatever its kind.
        for kind in AlertKind::ALL {
            for state in AlertState::ALL.iter().filter(|s| s.is_resolved()) {
                for action in AlertAction::ALL {
                    assert!(transition(*kind, *state, *action).is_err());
                }
            }
        }
    }

    #[test]
    fn refusals_say_why() {
        let e = transition(
            AlertKind::Vulnerability,
            AlertState::Remediated,
            AlertAction::Acknowledge,
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "the alert is remediated: it cannot be acknowledged"
        );
        let e = transition(
            AlertKind::PossibleCompromise,
            AlertState::Open,
            AlertAction::NotAffected,
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "not-affected applies to vulnerability alerts; this is a possible-compromise alert"
        );
        let e = transition(
            AlertKind::Vulnerability,
            AlertState::Acknowledged,
            AlertAction::Contain,
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "contain applies to possible-compromise alerts (incidents); this is a vulnerability alert"
        );
        let e = transition(
            AlertKind::PossibleCompromise,
            AlertState::Open,
            AlertAction::Close,
        )
        .unwrap_err();
        assert_eq!(e.to_string(), "the alert is open: it cannot be closed");
    }

    #[test]
    fn words_round_trip_through_text_and_json() {
        for s in AlertState::ALL {
            assert_eq!(s.as_str().parse::<AlertState>(), Ok(*s));
            assert_eq!(
                serde_json::to_value(s).unwrap(),
                serde_json::Value::String(s.as_str().into())
            );
        }
        for k in ChannelKind::ALL {
            assert_eq!(k.as_str().parse::<ChannelKind>(), Ok(*k));
        }
        assert_eq!(
            "shut".parse::<AlertState>().unwrap_err(),
            "alert state \"shut\" is not one of open, acknowledged, remediated, risk-accepted, not-affected, withdrawn, triaged, confirmed, contained, closed, false-positive"
        );
        assert_eq!(
            "confirm-exposure".parse::<AlertExposure>(),
            Ok(AlertExposure::ConfirmExposure)
        );
    }
}

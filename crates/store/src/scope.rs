//! Tenancy as a type: the ids of what members own, and the [`Scope`] every read or write of
//! member data takes.
//!
//! A `Scope` is made from an authenticated [`Principal`] (its own organisation for member
//! roles, every organisation for central ones), narrowed to one organisation with
//! [`Scope::within`], or — for the database operator's own tools, which hold the file anyway —
//! [`Scope::operator`]. The store filters every query on it, so a handler cannot read another
//! member's data by passing the wrong number: it has no number to pass, only a scope.

use serde::{Deserialize, Serialize};

use crate::{Principal, Role};

/// Declares an id newtype: a database key of one kind of record, which cannot be mistaken for
/// another kind's (an asset id is not an alert id). Serialised as the bare number.
macro_rules! id {
    ($(#[$meta:meta])* $name:ident, $what:literal) => {
        $(#[$meta])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
            sqlx::Type, schemars::JsonSchema,
        )]
        #[serde(transparent)]
        #[sqlx(transparent)]
        pub struct $name(i64);

        impl $name {
            /// The id as stored.
            pub fn get(self) -> i64 {
                self.0
            }
        }

        impl From<i64> for $name {
            fn from(id: i64) -> Self {
                Self(id)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }

        impl std::str::FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                s.parse()
                    .map(Self)
                    .map_err(|_| format!("{} id {s:?} is not a number", $what))
            }
        }
    };
}

id!(
    /// An organisation (the central team or a member).
    OrgId,
    "organisation"
);
id!(
    /// A member's asset.
    AssetId,
    "asset"
);
id!(
    /// An alert to one organisation.
    AlertId,
    "alert"
);
id!(
    /// A finding on one asset.
    FindingId,
    "finding"
);
id!(
    /// A notification channel.
    ChannelId,
    "channel"
);
id!(
    /// A VEX statement the federation holds.
    StatementId,
    "statement"
);

id!(
    /// An API token.
    TokenId,
    "token"
);

/// Whose member data a caller may read or change.
///
/// There is no way to write one from a number; the store's reads take a `Scope`, not an
/// organisation id:
///
/// ```compile_fail
/// # async fn peek(store: ward_store::Store) {
/// let alerts = store.alerts(Some(2)).await; // an organisation id is not a scope
/// # }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scope(Reach);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reach {
    /// Every organisation: central roles, and the operator's own tools.
    All,
    /// One organisation only.
    Org(OrgId),
}

impl Principal {
    /// What this caller may see: its own organisation, or every one for a central role.
    pub fn scope(&self) -> Scope {
        if self.role.is_central() {
            Scope(Reach::All)
        } else {
            Scope(Reach::Org(self.organisation.id))
        }
    }
}

impl Scope {
    /// Every organisation, for whoever holds the database itself: the CLI (`ward admin`,
    /// `ward bench`), tests, and Ward's own background jobs. Never for a request: a request's
    /// scope comes from its [`Principal`].
    pub fn operator() -> Self {
        Self(Reach::All)
    }

    /// The scope narrowed to one organisation, if this scope reaches it (`None`: it does not,
    /// and the caller must not learn anything of it).
    pub fn within(self, organisation: OrgId) -> Option<Self> {
        match self.0 {
            Reach::All => Some(Self(Reach::Org(organisation))),
            Reach::Org(id) if id == organisation => Some(self),
            Reach::Org(_) => None,
        }
    }

    /// The one organisation this scope is narrowed to (`None`: it reaches every one).
    pub fn organisation(self) -> Option<OrgId> {
        match self.0 {
            Reach::All => None,
            Reach::Org(id) => Some(id),
        }
    }

    /// Whether it reaches this organisation.
    pub fn reaches(self, organisation: OrgId) -> bool {
        self.organisation().is_none_or(|id| id == organisation)
    }
}

/// Who may do what, in one place: the API and the UI both ask these.
impl Role {
    /// May act on alerts (acknowledge, remediate, accept risk, declare not affected): writers
    /// of the member, and the central admin on a member's behalf — not the central analyst,
    /// whose word would be taken for the member's.
    pub fn can_act_on_alerts(self) -> bool {
        self.can_write() && self != Self::CentralAnalyst
    }

    /// May administer: add notification channels, and (central) organisations and imports.
    pub fn is_admin(self) -> bool {
        matches!(self, Self::CentralAdmin | Self::MemberAdmin)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Organisation;

    fn org(id: i64, slug: &str) -> Organisation {
        Organisation {
            id: OrgId(id),
            slug: slug.into(),
            name: slug.into(),
            central: id == 1,
            created_at: String::new(),
        }
    }

    #[test]
    fn a_member_reaches_only_its_own_organisation() {
        let rxa = org(2, "rxa");
        let member = Scope(Reach::Org(rxa.id));
        assert_eq!(member.within(rxa.id), Some(member));
        assert_eq!(member.within(org(3, "rxb").id), None);
        assert!(member.reaches(OrgId(2)) && !member.reaches(OrgId(3)));
        assert_eq!(member.organisation(), Some(OrgId(2)));
    }

    #[test]
    fn a_central_scope_narrows_to_any_one_organisation() {
        let all = Scope::operator();
        assert_eq!(all.organisation(), None);
        let rxb = all.within(org(3, "rxb").id).unwrap();
        assert_eq!(rxb.organisation(), Some(OrgId(3)));
        // Narrowed once, it stays narrowed.
        assert_eq!(rxb.within(org(2, "rxa").id), None);
    }

    #[test]
    fn ids_are_numbers_in_json_and_text() {
        assert_eq!(serde_json::to_string(&AlertId(42)).unwrap(), "42");
        assert_eq!(serde_json::from_str::<AssetId>("7").unwrap(), AssetId(7));
        assert_eq!("12".parse::<FindingId>(), Ok(FindingId(12)));
        assert_eq!(
            "x".parse::<AlertId>().unwrap_err(),
            "alert id \"x\" is not a number"
        );
    }
}

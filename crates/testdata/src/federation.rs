//! A populated federation for the store, server and binary suites: the central team
//! (`nhs-england`) and two members (`rxa`, `rxb`), a token for every role, made through the
//! store as `ward admin` makes them.

use std::collections::BTreeMap;

use ward_store::{Organisation, Role, Store};

/// The federation and its tokens.
pub struct Federation {
    pub store: Store,
    pub central: Organisation,
    pub rxa: Organisation,
    pub rxb: Organisation,
    tokens: BTreeMap<(String, Role), String>,
}

impl Federation {
    /// Creates it in the (empty) database at `location`.
    pub async fn create(location: &str) -> Self {
        let store = Store::open(location)
            .await
            .expect("the test database opens");
        let actor = "cli:test";
        let central = store
            .create_organisation(actor, "nhs-england", "NHS England", true)
            .await
            .expect("the central team");
        let rxa = store
            .create_organisation(actor, "rxa", "Royal Example Hospital", false)
            .await
            .expect("member rxa");
        let rxb = store
            .create_organisation(actor, "rxb", "Borough General", false)
            .await
            .expect("member rxb");
        let mut tokens = BTreeMap::new();
        for org in [&central, &rxa, &rxb] {
            for role in Role::ALL
                .into_iter()
                .filter(|r| r.is_central() == org.central)
            {
                let (_, secret) = store
                    .create_token(actor, &org.slug, role.as_str(), role)
                    .await
                    .expect("a token");
                tokens.insert((org.slug.clone(), role), secret);
            }
        }
        Self {
            store,
            central,
            rxa,
            rxb,
            tokens,
        }
    }

    /// The token of `role` in the organisation `slug`.
    pub fn token(&self, slug: &str, role: Role) -> &str {
        self.tokens
            .get(&(slug.to_owned(), role))
            .unwrap_or_else(|| panic!("no {role} token for {slug}"))
    }

    /// Every member role's token of the organisation `slug`, with the role.
    pub fn member_tokens(&self, slug: &str) -> Vec<(Role, &str)> {
        self.tokens
            .iter()
            .filter(|((s, _), _)| s == slug)
            .map(|((_, role), token)| (*role, token.as_str()))
            .collect()
    }
}

//! Account administration: the people and API tokens of an organisation (a member admin's
//! own; a central admin's every one), disabled, given a new password or revoked from here as
//! with `ward admin user|token`. Every change is audited by the store.

use super::*;

#[derive(Template)]
#[template(path = "people.html")]
pub(super) struct PeoplePage {
    nav: Nav,
    users: Vec<ward_store::UserInfo>,
    tokens: Vec<ward_store::TokenInfo>,
    me: String,
    message: String,
    error: String,
}

/// Who may administer accounts: central admins (everyone) and member admins (their own).
fn may_administer(session: &Session) -> Result<(), PageError> {
    match session.who.role {
        Role::CentralAdmin | Role::MemberAdmin => Ok(()),
        _ => Err(forbidden("administer accounts")),
    }
}

async fn page(
    state: &AppState,
    session: &Session,
    message: String,
    error: String,
) -> Result<PeoplePage, PageError> {
    may_administer(session)?;
    let users = state.store.users(session.scope()).await?;
    let own = session.who.organisation.slug.clone();
    let everyone = session.scope().organisation().is_none();
    let tokens = state
        .store
        .tokens()
        .await?
        .into_iter()
        .filter(|t| everyone || t.organisation == own)
        .collect();
    Ok(PeoplePage {
        nav: session.nav(state, "people").await?,
        users,
        tokens,
        me: session
            .who
            .credential
            .strip_prefix("user:")
            .unwrap_or_default()
            .to_owned(),
        message,
        error,
    })
}

pub(super) async fn people(State(state): State<Arc<AppState>>, session: Session) -> PageResult {
    Ok(html(
        &page(&state, &session, String::new(), String::new()).await?,
    ))
}

#[derive(Deserialize)]
pub(super) struct PeopleForm {
    csrf: String,
    action: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    token: Option<ward_store::TokenId>,
}

pub(super) async fn people_action(
    State(state): State<Arc<AppState>>,
    session: Session,
    axum::Form(form): axum::Form<PeopleForm>,
) -> PageResult {
    session.check(&form.csrf)?;
    may_administer(&session)?;
    let actor = session.who.actor();
    let scope = session.scope();
    let result: Result<String, ward_store::StoreError> = match form.action.as_str() {
        "disable"
            if form
                .email
                .trim()
                .eq_ignore_ascii_case(session.who.credential.trim_start_matches("user:")) =>
        {
            Err(ward_store::StoreError::Invalid(
                "you cannot disable your own account here (ask another admin)".into(),
            ))
        }
        "disable" => state
            .store
            .disable_user(&actor, scope, &form.email)
            .await
            .map(|u| format!("{} is disabled: their sessions ended.", u.email)),
        "reset-password" => state
            .store
            .reset_password(&actor, scope, &form.email, &form.password)
            .await
            .map(|u| format!("{} has a new password: their sessions ended.", u.email)),
        "revoke-token" => {
            let own = session.who.organisation.slug.clone();
            let everyone = scope.organisation().is_none();
            let found = match form.token {
                Some(id) => state
                    .store
                    .tokens()
                    .await?
                    .into_iter()
                    .find(|t| t.id == id && (everyone || t.organisation == own)),
                None => None,
            };
            match found {
                // Another organisation's token does not exist for a member admin.
                None => return Err(not_found("token")),
                Some(t) => state
                    .store
                    .revoke_token(&actor, t.id)
                    .await
                    .map(|_| format!("Token {} ({}) is revoked.", t.name, t.prefix)),
            }
        }
        other => Err(ward_store::StoreError::Invalid(format!(
            "action: {other:?} is not disable, reset-password or revoke-token"
        ))),
    };
    match result {
        Ok(message) => Ok(html(&page(&state, &session, message, String::new()).await?)),
        Err(ward_store::StoreError::NotFound(what)) => Err(not_found(&what)),
        Err(e) => {
            let e = ApiError::from(e);
            let mut r = html(&page(&state, &session, String::new(), e.message).await?);
            *r.status_mut() = e.status;
            Ok(r)
        }
    }
}

//! Signing in and out, and the first page after.

use super::*;

#[derive(Template)]
#[template(path = "login.html")]
pub(super) struct LoginPage {
    email: String,
    error: String,
}

pub(super) async fn login_form() -> Response {
    html(&LoginPage {
        email: String::new(),
        error: String::new(),
    })
}

#[derive(Deserialize)]
pub(super) struct LoginForm {
    email: String,
    password: String,
}

pub(super) async fn login(
    State(state): State<Arc<AppState>>,
    axum::extract::ConnectInfo(addr): axum::extract::ConnectInfo<std::net::SocketAddr>,
    axum::Form(form): axum::Form<LoginForm>,
) -> PageResult {
    let refused = |status: StatusCode, error: &str| {
        let mut r = html(&LoginPage {
            email: form.email.clone(),
            error: error.to_owned(),
        });
        *r.status_mut() = status;
        r
    };
    match state
        .store
        .login(&form.email, &form.password, &addr.ip().to_string())
        .await?
    {
        ward_store::Login::Ok(session) => {
            let mut r = see_other("/");
            r.headers_mut().insert(
                header::SET_COOKIE,
                HeaderValue::from_str(&session_cookie(&session.secret)).expect("hex and ASCII"),
            );
            Ok(r)
        }
        ward_store::Login::Refused => Ok(refused(
            StatusCode::UNAUTHORIZED,
            "Wrong email or password.",
        )),
        ward_store::Login::Throttled => Ok(refused(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many failed sign-ins: try again in 15 minutes.",
        )),
    }
}

#[derive(Deserialize)]
pub(super) struct CsrfForm {
    csrf: String,
}

pub(super) async fn logout(
    State(state): State<Arc<AppState>>,
    session: Session,
    axum::Form(form): axum::Form<CsrfForm>,
) -> PageResult {
    session.check(&form.csrf)?;
    state.store.logout(&session.secret).await?;
    let mut r = see_other("/login");
    r.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static(CLEAR_SESSION_COOKIE),
    );
    Ok(r)
}

pub(super) async fn home(session: Session) -> Response {
    if session.who.role.is_central() {
        see_other("/dashboard")
    } else {
        see_other("/worklist")
    }
}

//! The pages: one askama template per page under `templates/`, each extending
//! `base.html`, with includes for the shared bits (the navigation, notices,
//! the CSRF field). The structs here carry what each template shows, and
//! nothing else: handlers gather the data, templates lay it out.
//!
//! Askama escapes every value it prints. The one exception is the QR code's
//! SVG, which twofold draws from the otpauth URI (`|safe` in
//! `totp_setup.html`).

pub(crate) mod security;
pub(crate) mod settings;
pub(crate) mod sign_in;
pub(crate) mod unlock;

use askama::Template;
use axum::response::{Html, IntoResponse, Response};

use crate::db::User;
use crate::error::{AppError, Context};

/// The frame every page shares: its title, the session's CSRF token (for
/// forms and `fetch` calls), who is signed in, and the notices at its top.
pub(crate) struct Layout {
    pub title: &'static str,
    pub csrf: Option<String>,
    pub nav: Option<Nav>,
    pub notices: Vec<Notice>,
}

impl Layout {
    /// A page for nobody in particular (errors).
    pub(crate) fn bare(title: &'static str) -> Layout {
        Layout {
            title,
            csrf: None,
            nav: None,
            notices: Vec::new(),
        }
    }

    /// A page of the sign-in steps: forms, but no navigation yet.
    pub(crate) fn signing_in(title: &'static str, csrf: String) -> Layout {
        Layout {
            csrf: Some(csrf),
            ..Layout::bare(title)
        }
    }

    /// A page of the signed-in app, at `path` (marked in the navigation).
    pub(crate) fn signed_in(
        title: &'static str,
        csrf: String,
        user: &User,
        path: &'static str,
    ) -> Layout {
        Layout {
            nav: Some(Nav::new(user, path)),
            ..Layout::signing_in(title, csrf)
        }
    }

    /// Adds a notice, if there is one.
    pub(crate) fn notice(mut self, notice: Option<Notice>) -> Layout {
        self.notices.extend(notice);
        self
    }

    /// The CSRF token, for the templates' forms (every page that has a form has one).
    pub(crate) fn token(&self) -> &str {
        self.csrf.as_deref().unwrap_or_default()
    }
}

/// The navigation: the signed-in user's avatar menu, and the pages their role sees.
pub(crate) struct Nav {
    pub name: String,
    pub role: String,
    /// The avatar's letters ("OO" for Olivia Owner).
    pub initials: String,
    /// Whether the staff list and the audit log are shown (owners and admins).
    pub manager: bool,
    /// The page shown, marked `aria-current`.
    pub path: &'static str,
}

impl Nav {
    fn new(user: &User, path: &'static str) -> Nav {
        Nav {
            name: user.name.clone(),
            role: user.role.clone(),
            initials: user
                .name
                .split_whitespace()
                .filter_map(|word| word.chars().next())
                .take(2)
                .flat_map(char::to_uppercase)
                .collect(),
            manager: is_manager(user),
            path,
        }
    }
}

/// Whether `user` sees the staff list and the audit log (owners and admins do).
pub(crate) fn is_manager(user: &User) -> bool {
    matches!(user.role.as_str(), "owner" | "admin")
}

/// What kind of message a notice is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tone {
    /// Something was done.
    Ok,
    /// Something went wrong: what to do now.
    Error,
    /// For information.
    Info,
}

impl Tone {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Tone::Ok => "ok",
            Tone::Error => "error",
            Tone::Info => "info",
        }
    }

    pub(crate) fn parse(text: &str) -> Tone {
        match text {
            "ok" => Tone::Ok,
            "error" => Tone::Error,
            _ => Tone::Info,
        }
    }
}

impl std::fmt::Display for Tone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A message at the top of a page.
pub(crate) struct Notice {
    pub tone: Tone,
    pub text: String,
}

impl Notice {
    pub(crate) fn error(text: impl Into<String>) -> Notice {
        Notice {
            tone: Tone::Error,
            text: text.into(),
        }
    }

    pub(crate) fn info(text: impl Into<String>) -> Notice {
        Notice {
            tone: Tone::Info,
            text: text.into(),
        }
    }

    /// Errors interrupt (`role="alert"`); the others wait (`role="status"`).
    pub(crate) fn role(&self) -> &'static str {
        if self.tone == Tone::Error {
            "alert"
        } else {
            "status"
        }
    }
}

/// A page that only says something: the error pages.
#[derive(Template)]
#[template(path = "message.html")]
pub(crate) struct Message {
    pub layout: Layout,
    pub id: Option<&'static str>,
    pub text: String,
    /// Whether to point to My Profile → Security (the managers-only page).
    pub profile_link: bool,
}

/// Renders a page.
pub(crate) fn html(page: &impl Template) -> Result<Html<String>, AppError> {
    page.render().map(Html).context("rendering a page")
}

/// Renders a page as the whole response (200).
pub(crate) fn page(page: &impl Template) -> Result<Response, AppError> {
    Ok(html(page)?.into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(name: &str, role: &str) -> User {
        User {
            id: "u1".into(),
            clinic: "c".into(),
            email: "e@x".into(),
            name: name.into(),
            role: role.into(),
            password_hash: String::new(),
        }
    }

    #[test]
    fn the_avatar_shows_initials_and_managers_see_more() {
        let nav = Nav::new(&user("Olivia Owner", "owner"), "/");
        assert_eq!(nav.initials, "OO");
        assert!(nav.manager);
        let nav = Nav::new(&user("sam", "staff"), "/");
        assert_eq!(nav.initials, "S");
        assert!(!nav.manager);
    }

    #[test]
    fn names_are_escaped_in_the_navigation() {
        let page = Message {
            layout: Layout::signed_in(
                "Title",
                "token".into(),
                &user("<script>alert(1)</script>", "owner"),
                "/",
            ),
            id: None,
            text: "a & b".into(),
            profile_link: false,
        };
        let html = page.render().unwrap_or_default();
        // Askama escapes with numeric references: `<` is `&#60;`.
        assert!(!html.contains("<script>alert"), "{html}");
        assert!(
            html.contains("&#60;script&#62;alert(1)&#60;/script&#62;"),
            "{html}"
        );
        assert!(html.contains("a &#38; b"), "{html}");
    }
}

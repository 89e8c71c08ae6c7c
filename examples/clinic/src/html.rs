//! Server-rendered pages: one layout and escaped text. The stylesheet and the
//! few lines of JavaScript that WebAuthn needs are static assets (`assets/`).

use axum::response::Html;

/// Escapes text for HTML content and attribute values.
pub(crate) fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A hidden CSRF field for a form.
pub(crate) fn csrf_field(token: &str) -> String {
    format!(
        r#"<input type="hidden" name="csrf" value="{}">"#,
        esc(token)
    )
}

/// Who is signed in, for the navigation bar.
pub(crate) struct Nav<'a> {
    pub name: &'a str,
    pub role: &'a str,
    pub csrf: &'a str,
}

pub(crate) struct Page<'a> {
    title: &'a str,
    nav: Option<Nav<'a>>,
    csrf: Option<&'a str>,
    body: String,
}

impl<'a> Page<'a> {
    pub(crate) fn bare(title: &'a str) -> Page<'a> {
        Page {
            title,
            nav: None,
            csrf: None,
            body: String::new(),
        }
    }

    pub(crate) fn nav(mut self, nav: Nav<'a>) -> Page<'a> {
        self.csrf = Some(nav.csrf);
        self.nav = Some(nav);
        self
    }

    /// The token for the page's `fetch` calls.
    pub(crate) fn csrf(mut self, token: &'a str) -> Page<'a> {
        self.csrf = Some(token);
        self
    }

    pub(crate) fn body(mut self, body: &str) -> Page<'a> {
        self.body.push_str(body);
        self
    }

    pub(crate) fn render(self) -> Html<String> {
        let nav = match &self.nav {
            Some(nav) => {
                // The staff list and the audit log are for owners and admins.
                let managers = if matches!(nav.role, "owner" | "admin") {
                    r#"<a href="/settings/staff" id="nav-settings-staff">Settings → Staff</a>
<a href="/settings/audit" id="nav-audit">Audit log</a>"#
                } else {
                    ""
                };
                format!(
                    r#"<nav><a href="/settings/security" id="nav-settings-security">Settings → Security</a>
{managers}
<details class="who"><summary id="avatar">{} ({})</summary><div class="menu"><a href="/profile/security" id="nav-profile">My Profile → Security</a></div></details>
<form method="post" action="/signout" class="inline">{}<button id="sign-out">Sign out</button></form></nav>"#,
                    esc(nav.name),
                    esc(nav.role),
                    csrf_field(nav.csrf)
                )
            }
            None => String::new(),
        };
        let meta = self
            .csrf
            .map(|token| format!(r#"<meta name="csrf-token" content="{}">"#, esc(token)))
            .unwrap_or_default();
        Html(format!(
            r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title} · Smile Dental</title>{meta}
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/assets/app.css"><script src="/assets/app.js" defer></script></head>
<body><header><strong>Smile Dental</strong> practice platform</header>{nav}
<main><h1>{title}</h1>
{body}
</main></body></html>"#,
            title = esc(self.title),
            body = self.body,
        ))
    }
}

/// A message box.
pub(crate) fn notice(kind: &str, text: &str) -> String {
    format!(
        r#"<p class="notice {kind}" id="notice-{kind}" role="status">{}</p>"#,
        esc(text)
    )
}

#[cfg(test)]
mod tests {
    use super::esc;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            esc(r#"<a href="x">O'Neil & co</a>"#),
            "&lt;a href=&quot;x&quot;&gt;O&#39;Neil &amp; co&lt;/a&gt;"
        );
    }
}

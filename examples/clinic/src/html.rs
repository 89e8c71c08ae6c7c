//! Server-rendered pages: one layout, escaped text, and the few lines of
//! JavaScript that WebAuthn needs.

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
            Some(nav) => format!(
                r#"<nav><a href="/settings/security" id="nav-settings-security">Settings → Security</a>
<a href="/settings/staff" id="nav-settings-staff">Settings → Staff</a>
<a href="/settings/audit" id="nav-audit">Audit log</a>
<details class="who"><summary id="avatar">{} ({})</summary><div class="menu"><a href="/profile/security" id="nav-profile">My Profile → Security</a></div></details>
<form method="post" action="/signout" class="inline">{}<button id="sign-out">Sign out</button></form></nav>"#,
                esc(nav.name),
                esc(nav.role),
                csrf_field(nav.csrf)
            ),
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
<style>{STYLE}</style><script>{SCRIPT}</script></head>
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

const STYLE: &str = "
body{font-family:system-ui,sans-serif;margin:0;color:#1d2733;background:#f6f8fa}
header{background:#0b6e79;color:#fff;padding:.6em 1em}
nav{background:#e4eef0;padding:.5em 1em;display:flex;gap:1em;align-items:center;flex-wrap:wrap}
nav .who{margin-left:auto;font-weight:600;position:relative}
nav .who summary{cursor:pointer}
nav .menu{position:absolute;right:0;background:#fff;border:1px solid #ccd;padding:.5em;white-space:nowrap;z-index:1}
main{max-width:54em;margin:1em auto;background:#fff;padding:1em 2em;border-radius:8px}
section{border-top:1px solid #dde;padding:.5em 0}
form.inline{display:inline}
label{display:block;margin:.4em 0}
input[type=text],input[type=password],input[type=email]{font-size:1.1em;padding:.2em}
button,.button{font-size:1em;padding:.3em .8em;margin:.2em 0}
.notice{padding:.5em;border-radius:4px}
.notice.error{background:#fde2e1}
.notice.ok{background:#e1f5e4}
.notice.info{background:#e8eefc}
.secret{font-family:monospace;font-size:1.3em;letter-spacing:.05em}
.setup{display:flex;gap:2em;align-items:center;flex-wrap:wrap}
.qr svg{width:264px;height:264px;shape-rendering:crispEdges}
ol.codes{font-family:monospace;font-size:1.2em;columns:2}
table{border-collapse:collapse;width:100%}
td,th{border-bottom:1px solid #dde;padding:.3em;text-align:left;vertical-align:top}
";

/// WebAuthn glue: the server sends JSON options (WebAuthn Level 3 form), the
/// browser parses them, runs the ceremony, and posts `credential.toJSON()` back.
const SCRIPT: &str = r#"
function csrfToken(){const m=document.querySelector('meta[name=csrf-token]');return m?m.content:'';}
async function postJson(url, body){
  const r=await fetch(url,{method:'POST',headers:{'content-type':'application/json','x-csrf-token':csrfToken()},body:JSON.stringify(body||{})});
  let data={};try{data=await r.json();}catch(e){}
  if(!r.ok){throw new Error(data.error||('request failed: '+r.status));}
  return data;
}
function showError(e){const p=document.getElementById('passkey-error');if(p){p.textContent=e.message||String(e);p.hidden=false;}}
async function passkeyRegister(){
  try{
    const name=(document.getElementById('passkey-name')||{}).value||'';
    const password=(document.getElementById('passkey-password')||{}).value||'';
    const options=await postJson('/security/passkeys/begin',{password});
    const publicKey=PublicKeyCredential.parseCreationOptionsFromJSON(options);
    const credential=await navigator.credentials.create({publicKey});
    const done=await postJson('/security/passkeys/finish',{name,credential:credential.toJSON()});
    location.href=done.redirect;
  }catch(e){showError(e);}
}
async function passkeySignIn(){
  try{
    const options=JSON.parse(document.getElementById('passkey-options').textContent);
    const publicKey=PublicKeyCredential.parseRequestOptionsFromJSON(options);
    const credential=await navigator.credentials.get({publicKey});
    const done=await postJson('/signin/second-step/passkey',{credential:credential.toJSON()});
    location.href=done.redirect;
  }catch(e){showError(e);}
}
async function copyCodes(){
  const text=document.getElementById('codes-text').textContent;
  try{await navigator.clipboard.writeText(text);document.getElementById('copied').hidden=false;}catch(e){showError(e);}
}
"#;

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

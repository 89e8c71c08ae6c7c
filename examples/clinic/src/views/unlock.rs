//! The locked page, with self-service unlock.

use askama::Template;

use super::Layout;

/// `/signin/unlock`: the lock, and the codes that lift it.
#[derive(Template)]
#[template(path = "unlock.html")]
pub(crate) struct UnlockPage {
    pub layout: Layout,
    pub email: String,
    /// The lock, in words.
    pub locked: String,
    /// Codes needed in all.
    pub needed: u32,
    /// Codes accepted so far.
    pub entered: u32,
    /// "2 of 3 codes entered.", once a sequence is under way.
    pub progress: Option<String>,
    /// How long the sequence under way may still take.
    pub deadline: Option<String>,
    /// The cooldown after a wrong code, while it runs.
    pub cooldown: Option<String>,
}

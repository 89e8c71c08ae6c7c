//! Security notifications by email: twofold's outbox, delivered by a worker
//! through `lettre`. SMTP when configured (`--smtp-url`); otherwise each
//! message is written as an `.eml` file under the data directory, so that
//! `cargo run` works offline and the demo's mail can be read from disk.
//!
//! Every message carries the notification's stable id as its `Message-ID`,
//! so that a duplicate (a worker that died after sending and before recording
//! it) is recognisable to the receiving side.

use std::path::PathBuf;
use std::sync::{Arc, Weak};
use std::time::Duration;

use lettre::message::{Mailbox, header::ContentType};
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use sqlx::AnyPool;
use twofold::{Notification, NotificationSender, SendError, SendFuture};

use crate::{db, words};

/// Where the clinic's security notifications go.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Mail {
    /// Nowhere: they are listed on My Profile, and wait in the outbox.
    Off,
    /// One `.eml` file per message in this directory (the demo's default).
    Files(PathBuf),
    /// An SMTP server, as a URL (`smtps://user:password@mail.example:465`,
    /// `smtp://localhost:25`, `…?tls=required` for STARTTLS).
    Smtp(String),
}

/// How often the worker looks for notifications to deliver.
const ROUND: Duration = Duration::from_secs(5);
/// The longest a message may take to send (well under twofold's claim lease).
const SEND_TIMEOUT: Duration = Duration::from_secs(60);

/// The sender's address.
pub(crate) const FROM: &str = "Smile Dental security <security@smile.example>";

enum Transport {
    Files(AsyncFileTransport<Tokio1Executor>),
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
}

/// The clinic's mailer: twofold's `NotificationSender`.
pub(crate) struct Mailer {
    pool: AnyPool,
    transport: Transport,
    from: Mailbox,
}

/// Why the mailer could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MailError {
    /// The mail directory could not be created.
    #[error("the mail directory {path} could not be created")]
    Directory {
        /// The directory.
        path: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// The SMTP URL is not one lettre understands.
    #[error("the SMTP URL is invalid")]
    SmtpUrl(#[source] lettre::transport::smtp::Error),
    /// The sender's address does not parse.
    #[error("the sender's address is invalid")]
    From(#[source] lettre::address::AddressError),
}

impl Mailer {
    /// A mailer for `mail`, or `None` when mail is off.
    pub(crate) fn new(mail: &Mail, pool: AnyPool) -> Result<Option<Mailer>, MailError> {
        let transport = match mail {
            Mail::Off => return Ok(None),
            Mail::Files(dir) => {
                std::fs::create_dir_all(dir).map_err(|source| MailError::Directory {
                    path: dir.display().to_string(),
                    source,
                })?;
                Transport::Files(AsyncFileTransport::new(dir))
            }
            Mail::Smtp(url) => Transport::Smtp(
                AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                    .map_err(MailError::SmtpUrl)?
                    .build(),
            ),
        };
        let from = FROM.parse().map_err(MailError::From)?;
        Ok(Some(Mailer {
            pool,
            transport,
            from,
        }))
    }

    async fn deliver(&self, notification: &Notification) -> Result<(), SendError> {
        let Some(user) = db::user_by_id(&self.pool, &notification.user)
            .await
            .map_err(SendError::new)?
        else {
            // The account is gone: there is nobody to tell.
            return Ok(());
        };
        let staff = db::users_of(&self.pool, &user.clinic)
            .await
            .map_err(SendError::new)?;
        let (subject, sentence) =
            words::notice(&notification.notice, &crate::audit::name_in(&staff));
        let to = Mailbox::new(
            Some(user.name.clone()),
            user.email.parse().map_err(SendError::new)?,
        );
        let body = format!(
            "Hello {},\n\n{sentence}\n\nWhen: {}\n\nIf this was not you, tell your clinic's administrator \
             at once, and review My Profile → Security.\n\n— Smile Dental\n",
            user.name,
            words::when(notification.at.as_unix_seconds()),
        );
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject)
            // The notification's id: the same on every attempt.
            .message_id(Some(format!(
                "<{}@notifications.smile.example>",
                notification.id
            )))
            .header(ContentType::TEXT_PLAIN)
            .body(body)
            .map_err(SendError::new)?;
        // A server that never answers costs one attempt, not the worker.
        let sent = async {
            match &self.transport {
                Transport::Files(files) => {
                    files.send(message).await.map(drop).map_err(SendError::new)
                }
                Transport::Smtp(smtp) => smtp.send(message).await.map(drop).map_err(SendError::new),
            }
        };
        tokio::time::timeout(SEND_TIMEOUT, sent)
            .await
            .map_err(SendError::new)?
    }
}

impl NotificationSender for Mailer {
    fn send<'a>(&'a self, notification: &'a Notification) -> SendFuture<'a> {
        Box::pin(self.deliver(notification))
    }
}

/// The delivery worker: a round every few seconds, for as long as the app
/// lives. Several instances may run one each: claims keep them apart.
pub(crate) fn spawn_worker(app: Weak<crate::Inner>) {
    tokio::spawn(async move {
        let mut rounds = tokio::time::interval(ROUND);
        rounds.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            rounds.tick().await;
            let Some(inner) = app.upgrade() else {
                return;
            };
            let app = crate::App(Arc::clone(&inner));
            drop(inner);
            match app.deliver_notifications().await {
                Ok(delivered) if delivered.failed > 0 || delivered.skipped > 0 => {
                    tracing::warn!(
                        sent = delivered.sent,
                        failed = delivered.failed,
                        skipped = delivered.skipped,
                        "security notifications not all delivered; retrying later"
                    );
                }
                Ok(_) => {}
                Err(failure) => {
                    tracing::warn!(error = %failure.error, "security notification round failed");
                }
            }
        }
    });
}

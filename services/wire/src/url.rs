//! NATS URLs as operators write them: `nats://user:password@host:4222`, possibly a
//! comma-separated list of servers. The client library neither sends the credentials written
//! in a URL nor hides them, so both are done here, for the relay and the association alike.

/// `options` with the user and password of the first server in `url`, if it names both.
pub fn with_url_credentials(
    options: async_nats::ConnectOptions,
    url: &str,
) -> async_nats::ConnectOptions {
    match credentials(url) {
        Some((user, password)) => options.user_and_password(user, password),
        None => options,
    }
}

/// The user and password of the first server in `url` (a comma-separated list), if given.
fn credentials(url: &str) -> Option<(String, String)> {
    let first = url.split(',').next()?.trim();
    let addr: async_nats::ServerAddr = first.parse().ok()?;
    Some((addr.username()?.to_owned(), addr.password()?.to_owned()))
}

/// `url` with every server's user and password replaced by `***`, for messages and logs; a
/// query, which may carry a password too (PostgreSQL's `?password=`), becomes `?***`. Used for
/// NATS and database URLs alike.
pub fn redacted_url(url: &str) -> String {
    url.split(',')
        .map(|server| match server.split_once('?') {
            Some((server, _)) => format!("{}?***", redacted_server(server)),
            None => redacted_server(server),
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// One server of a URL list without its user and password.
fn redacted_server(server: &str) -> String {
    match server.split_once("://") {
        Some((scheme, rest)) => match rest.rsplit_once('@') {
            Some((_, host)) => format!("{scheme}://***@{host}"),
            None => server.to_owned(),
        },
        None => match server.rsplit_once('@') {
            Some((_, host)) => format!("***@{host}"),
            None => server.to_owned(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_come_from_the_url() {
        assert_eq!(
            credentials("nats://association:s3cret@hub-1:4222,nats://hub-2:4222"),
            Some(("association".into(), "s3cret".into()))
        );
        assert_eq!(credentials("nats://127.0.0.1:4222"), None);
        assert_eq!(credentials("nats://user-only@127.0.0.1:4222"), None);
        assert_eq!(credentials("not a url"), None);
    }

    #[test]
    fn redaction_hides_every_secret_and_keeps_the_servers() {
        assert_eq!(
            redacted_url("nats://node:s3cret@127.0.0.1:4222"),
            "nats://***@127.0.0.1:4222"
        );
        assert_eq!(
            redacted_url("tls://a:x@hub-1:4222, nats://b:p@w@hub-2:4222,hub-3:4222"),
            "tls://***@hub-1:4222, nats://***@hub-2:4222,hub-3:4222"
        );
        assert_eq!(redacted_url("u:s3cret@host:4222"), "***@host:4222");
        assert_eq!(
            redacted_url("nats://127.0.0.1:4222"),
            "nats://127.0.0.1:4222"
        );
        assert_eq!(
            redacted_url("postgres://u:s3cret@db:5432/x?sslmode=require&password=s3cret"),
            "postgres://***@db:5432/x?***"
        );
        assert_eq!(
            redacted_url("postgres://postgres@127.0.0.1:5432/x"),
            "postgres://***@127.0.0.1:5432/x"
        );
        for url in [
            "nats://node:s3cret@h:1",
            "tls://a:s3cret@h:1,nats://b:s3cret@g:2",
            "postgresql://db.example/node?password=s3cret",
        ] {
            assert!(!redacted_url(url).contains("s3cret"), "{url}");
        }
    }
}

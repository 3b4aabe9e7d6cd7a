//! The two migration folders stay in step, and every migration can be undone and redone.

use std::collections::BTreeSet;

use crate::helpers::*;
use callem::db::{self, migrations};

fn names(dir: &str) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{dir}: {e}"))
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn both_backends_have_the_same_migrations_with_up_and_down() {
    let pg = names("migrations/postgres");
    let lite = names("migrations/sqlite");
    assert!(!pg.is_empty());
    assert_eq!(pg, lite, "migrations/postgres and migrations/sqlite differ");
    for name in &pg {
        for backend in ["postgres", "sqlite"] {
            for file in ["up.sql", "down.sql"] {
                let path = format!("migrations/{backend}/{name}/{file}");
                assert!(std::path::Path::new(&path).exists(), "{path} is missing");
            }
        }
    }
}

crate::on_both_backends! {
    async fn migrations_go_up_down_and_up_again(app) {
        let users_before = count_rows(&app, "users").await;
        assert_eq!(users_before, 0);
        let reverted = app.db(migrations::revert_all).await;
        assert!(reverted >= 1);
        let again = app.db(migrations::run_pending).await;
        assert_eq!(again, reverted);
        // The schema works after the round trip.
        assert_eq!(app.db(|c| Ok(db::users::count(c)?)).await, 0);
        assert_eq!(app.db(migrations::run_pending).await, 0, "nothing left pending");
    }
}

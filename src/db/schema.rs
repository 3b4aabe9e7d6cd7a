//! The tables, in types both backends share (TEXT, TIMESTAMP as UTC, BOOL, DOUBLE).

diesel::table! {
    settings (name) {
        name -> Text,
        value -> Text,
    }
}

diesel::table! {
    projects (id) {
        id -> Text,
        name -> Text,
        created_at -> Timestamp,
        calls_count -> BigInt,
        knowledge_count -> BigInt,
    }
}

diesel::table! {
    users (id) {
        id -> Text,
        email -> Text,
        password_hash -> Text,
        created_at -> Timestamp,
        session_epoch -> BigInt,
        display_name -> Nullable<Text>,
        last_sign_in_at -> Nullable<Timestamp>,
        email_verified_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    password_resets (token_hash) {
        token_hash -> Text,
        user_id -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    invitations (id) {
        id -> Text,
        project_id -> Text,
        email -> Text,
        role -> Text,
        token_hash -> Text,
        invited_by -> Nullable<Text>,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        accepted_at -> Nullable<Timestamp>,
        revoked_at -> Nullable<Timestamp>,
        link_shown -> Bool,
    }
}

diesel::table! {
    memberships (project_id, user_id) {
        project_id -> Text,
        user_id -> Text,
        role -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    api_keys (id) {
        id -> Text,
        project_id -> Text,
        name -> Text,
        prefix -> Text,
        key_hash -> Text,
        allowed_ips -> Text,
        expires_at -> Nullable<Timestamp>,
        last_used_at -> Nullable<Timestamp>,
        last_used_ip -> Nullable<Text>,
        created_by -> Nullable<Text>,
        created_at -> Timestamp,
        revoked_by -> Nullable<Text>,
        revoked_at -> Nullable<Timestamp>,
        scope -> Text,
        replaced_by -> Nullable<Text>,
        rolled_at -> Nullable<Timestamp>,
        roll_baseline -> BigInt,
        leak_reported_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    calls (id) {
        id -> Text,
        project_id -> Text,
        status -> Text,
        duration -> Double,
        summary -> Nullable<Text>,
        evaluation -> Nullable<Text>,
        ended_reason -> Nullable<Text>,
        caller_number -> Nullable<Text>,
        called_number -> Nullable<Text>,
        is_engaged -> Bool,
        call_analysis -> Text,
        transcript -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    knowledge_items (id) {
        id -> Text,
        project_id -> Text,
        name -> Text,
        description -> Nullable<Text>,
        text -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    audit_events (id) {
        id -> Text,
        project_id -> Text,
        seq -> BigInt,
        created_at -> Timestamp,
        actor_kind -> Text,
        actor_user_id -> Nullable<Text>,
        actor_key_id -> Nullable<Text>,
        actor_label -> Text,
        action -> Text,
        target_type -> Text,
        target_id -> Nullable<Text>,
        target_label -> Text,
        ip -> Nullable<Text>,
        detail -> Nullable<Text>,
        prev_hash -> Text,
        hash -> Text,
    }
}

diesel::table! {
    audit_chain_heads (project_id) {
        project_id -> Text,
        last_seq -> BigInt,
        last_hash -> Text,
    }
}

diesel::table! {
    key_usage_hourly (key_id, hour, outcome) {
        key_id -> Text,
        hour -> Timestamp,
        outcome -> Text,
        requests -> BigInt,
    }
}

diesel::table! {
    key_usage_clients (key_id, ip) {
        key_id -> Text,
        ip -> Text,
        first_seen -> Timestamp,
        last_seen -> Timestamp,
        requests -> BigInt,
        refused -> BigInt,
        calls_read -> BigInt,
        calls_write -> BigInt,
        calls_delete -> BigInt,
        knowledge_read -> BigInt,
        knowledge_write -> BigInt,
    }
}

diesel::table! {
    key_usage_client_days (key_id, ip, day) {
        key_id -> Text,
        ip -> Text,
        day -> Timestamp,
        allowed -> BigInt,
        calls_read -> BigInt,
        calls_write -> BigInt,
        calls_delete -> BigInt,
        knowledge_read -> BigInt,
        knowledge_write -> BigInt,
    }
}

diesel::table! {
    sign_in_failures (email) {
        email -> Text,
        failures -> BigInt,
        last_failure_at -> Timestamp,
    }
}

diesel::joinable!(memberships -> projects (project_id));
diesel::joinable!(memberships -> users (user_id));
diesel::joinable!(password_resets -> users (user_id));
diesel::joinable!(invitations -> projects (project_id));
diesel::joinable!(invitations -> users (invited_by));
diesel::joinable!(api_keys -> projects (project_id));
diesel::joinable!(calls -> projects (project_id));
diesel::joinable!(knowledge_items -> projects (project_id));
diesel::table! {
    usage_flush_batches (id) {
        id -> Text,
        written_at -> Timestamp,
    }
}

diesel::table! {
    webhooks (id) {
        id -> Text,
        project_id -> Text,
        url -> Text,
        description -> Text,
        events -> Text,
        secret_sealed -> Text,
        previous_secret_sealed -> Nullable<Text>,
        previous_secret_until -> Nullable<Timestamp>,
        enabled -> Bool,
        disabled_reason -> Nullable<Text>,
        disabled_by -> Nullable<Text>,
        disabled_at -> Nullable<Timestamp>,
        failing_since -> Nullable<Timestamp>,
        created_by -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    webhook_events (id) {
        id -> Text,
        project_id -> Text,
        kind -> Text,
        subject -> Text,
        seq -> BigInt,
        payload -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    webhook_deliveries (id) {
        id -> Text,
        webhook_id -> Text,
        event_id -> Text,
        project_id -> Text,
        kind -> Text,
        subject -> Text,
        seq -> BigInt,
        state -> Text,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        lease_until -> Nullable<Timestamp>,
        last_status -> Nullable<Integer>,
        last_error -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        delivered_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    webhook_attempts (id) {
        id -> Text,
        delivery_id -> Text,
        attempted_at -> Timestamp,
        duration_ms -> BigInt,
        status -> Nullable<Integer>,
        error -> Nullable<Text>,
        response_body -> Text,
        request_headers -> Text,
    }
}

diesel::table! {
    notifications (mark) {
        mark -> Text,
        project_id -> Nullable<Text>,
        kind -> Text,
        payload -> Text,
        created_at -> Timestamp,
        claimed_at -> Nullable<Timestamp>,
    }
}

diesel::joinable!(webhooks -> projects (project_id));
diesel::joinable!(webhook_deliveries -> webhooks (webhook_id));
diesel::joinable!(webhook_deliveries -> webhook_events (event_id));
diesel::joinable!(webhook_attempts -> webhook_deliveries (delivery_id));
diesel::joinable!(key_usage_hourly -> api_keys (key_id));
diesel::joinable!(key_usage_clients -> api_keys (key_id));
diesel::joinable!(key_usage_client_days -> api_keys (key_id));

diesel::allow_tables_to_appear_in_same_query!(
    settings,
    projects,
    users,
    password_resets,
    invitations,
    memberships,
    api_keys,
    calls,
    knowledge_items,
    audit_events,
    audit_chain_heads,
    key_usage_hourly,
    key_usage_clients,
    key_usage_client_days,
    sign_in_failures,
    usage_flush_batches,
    webhooks,
    webhook_events,
    webhook_deliveries,
    webhook_attempts,
    notifications,
);

// SPDX-License-Identifier: GPL-3.0-or-later
// See InternalSchema.h. Passwords are stored as PBKDF2 hash, salt and iteration count; API
// keys only as a hash (the key itself is shown once). The audit log holds no personal data.
#include "InternalSchema.h"

namespace bulwark {

QList<Migration> internalMigrations()
{
    return {
        {1, QStringLiteral("users, api keys, audit log"),
         [](const Dialect &d) {
             const QString ts = d.timestampType();
             return QStringList{
                 QStringLiteral(
                     "CREATE TABLE users ("
                     "id %1, "
                     "email TEXT NOT NULL UNIQUE, "
                     "display_name TEXT NOT NULL DEFAULT '', "
                     "password_hash TEXT, "
                     "password_salt TEXT, "
                     "password_iterations INTEGER, "
                     "role TEXT NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'admin')), "
                     "disabled BOOLEAN NOT NULL DEFAULT FALSE, "
                     "created_at %2 NOT NULL)")
                     .arg(d.autoIncrementKey(), ts),
                 QStringLiteral("CREATE TABLE api_keys ("
                                "id %1, "
                                "user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE, "
                                "name TEXT NOT NULL DEFAULT '', "
                                "key_hash TEXT NOT NULL UNIQUE, "
                                "created_at %2 NOT NULL, "
                                "last_used_at %2, "
                                "revoked_at %2)")
                     .arg(d.autoIncrementKey(), ts),
                 QStringLiteral("CREATE INDEX api_keys_user ON api_keys (user_id)"),
                 QStringLiteral("CREATE TABLE audit_log ("
                                "id %1, "
                                "at %2 NOT NULL, "
                                "actor TEXT NOT NULL, "
                                "action TEXT NOT NULL, "
                                "detail %3)")
                     .arg(d.autoIncrementKey(), ts, d.jsonType()),
                 QStringLiteral("CREATE INDEX audit_log_at ON audit_log (at)"),
             };
         }},
        {2, QStringLiteral("api key expiry, applied collection definitions"),
         [](const Dialect &d) {
             const QString ts = d.timestampType();
             return QStringList{
                 QStringLiteral("ALTER TABLE api_keys ADD COLUMN expires_at %1").arg(ts),
                 // What SchemaSync last applied for each collection of the schema file: the
                 // next start compares the file against it to tell additions (applied) from
                 // destructive changes (refused unless allowed).
                 QStringLiteral("CREATE TABLE collection_definitions ("
                                "name TEXT PRIMARY KEY, "
                                "definition TEXT NOT NULL, "
                                "applied_at %1 NOT NULL)")
                     .arg(ts),
             };
         }},
    };
}

} // namespace bulwark

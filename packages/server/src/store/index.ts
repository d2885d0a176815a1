export { createStore, SQLITE_FILE_NAME, sqlitePath } from './create-store.js';
export { MIGRATIONS, type Migration } from './migrations.js';
export { createPostgresStore, PostgresStore } from './postgres-store.js';
export { createSqliteStore, SqliteStore } from './sqlite-store.js';
export type * from './store.js';

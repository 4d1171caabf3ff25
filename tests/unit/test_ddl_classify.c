/* test_ddl_classify.c - table-driven tests of the DDL classifier and the redactor. */

#include "ddl_classify.h"

#include <CUnit/Basic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define O STMT_OTHER
#define D STMT_DDL
#define A STMT_ACCOUNT
#define ADM STMT_ADMIN_DDL
#define U STMT_USE

/* One statement: sql is classified with default db "cur"; statement `at` is checked. */
struct cls_case {
    const char *sql;
    enum stmt_class cls;
    const char *kind;
    const char *db, *table;
    unsigned at;        /* index of the statement to check */
};

static const struct cls_case cases[] = {
    /* ---- CREATE TABLE and friends */
    { "CREATE TABLE t (a INT)", D, "create table", "cur", "t", 0 },
    { "create table IF NOT EXISTS db1.t2 (a int primary key)", D, "create table", "db1", "t2", 0 },
    { "CREATE TABLE `my db`.`my``t` (a INT)", D, "create table", "my db", "my`t", 0 },
    { "CREATE TABLE `a.b;c` (x INT)", D, "create table", "cur", "a.b;c", 0 },
    { "CREATE TABLE t LIKE s", D, "create table like", "cur", "t", 0 },
    { "CREATE TABLE db.t (LIKE db.s)", D, "create table like", "db", "t", 0 },
    { "CREATE TABLE t AS SELECT * FROM s", D, "create table select", "cur", "t", 0 },
    { "CREATE TABLE t SELECT 1 AS a", D, "create table select", "cur", "t", 0 },
    { "CREATE TABLE t (a INT) SELECT a FROM s", D, "create table select", "cur", "t", 0 },
    { "CREATE TABLE t (SELECT 1)", D, "create table select", "cur", "t", 0 },
    { "CREATE TABLE t AS WITH c AS (SELECT 1) SELECT * FROM c", D, "create table select", "cur", "t", 0 },
    { "CREATE TABLE t (a INT) IGNORE SELECT 1", D, "create table select", "cur", "t", 0 },
    { "CREATE TABLE t (a INT, b INT AS (a + 1))", D, "create table", "cur", "t", 0 },
    { "CREATE TABLE t (a INT) WITH SYSTEM VERSIONING", D, "create table", "cur", "t", 0 },
    { "CREATE TABLE t (a INT, s VARCHAR(10) DEFAULT 'select')", D, "create table", "cur", "t", 0 },
    { "CREATE TABLE t (a INT) PARTITION BY RANGE (a) (PARTITION p0 VALUES LESS THAN (10))",
      D, "create table", "cur", "t", 0 },
    { "CREATE OR REPLACE TABLE t (a INT)", D, "create table", "cur", "t", 0 },
    { "CREATE GLOBAL TEMPORARY TABLE t (a INT) ON COMMIT DELETE ROWS", D, "create table", "cur", "t", 0 },
    { "CREATE TEMPORARY TABLE t (a INT)", O, "create temporary table", "cur", "t", 0 },
    { "create temporary table if not exists tmp1 select 1", O, "create temporary table", "cur", "tmp1", 0 },
    { "DROP TEMPORARY TABLE IF EXISTS t", O, "drop temporary table", "cur", "t", 0 },
    { "DROP GLOBAL TEMPORARY TABLE t", D, "drop table", "cur", "t", 0 },
    { "CREATE TABLE /*!32312 IF NOT EXISTS*/ `t` (a INT)", D, "create table", "cur", "t", 0 },
    { "CREATE TABLE t (a INT) /*T![placement] PLACEMENT POLICY=p1 */", D, "create table", "cur", "t", 0 },
    /* ---- DROP / TRUNCATE / RENAME TABLE */
    { "DROP TABLE t", D, "drop table", "cur", "t", 0 },
    { "DROP TABLE IF EXISTS a.t1, b.t2", D, "drop table", "a", "t1", 0 },
    { "DROP TABLES t1, t2", D, "drop table", "cur", "t1", 0 },
    { "TRUNCATE TABLE db.t", D, "truncate table", "db", "t", 0 },
    { "truncate t", D, "truncate table", "cur", "t", 0 },
    { "RENAME TABLE a TO b", D, "rename table", "cur", "a", 0 },
    { "RENAME TABLE d1.a TO d2.b, c TO d", D, "rename table", "d1", "a", 0 },
    { "ALTER TABLE t RENAME TO t2", D, "rename table", "cur", "t", 0 },
    { "ALTER TABLE t RENAME AS db2.t2", D, "rename table", "cur", "t", 0 },
    /* ---- databases */
    { "CREATE DATABASE d1", D, "create database", "d1", "", 0 },
    { "CREATE SCHEMA IF NOT EXISTS `d 2` CHARACTER SET utf8mb4", D, "create database", "d 2", "", 0 },
    { "DROP DATABASE IF EXISTS d1", D, "drop database", "d1", "", 0 },
    { "drop schema d1", D, "drop database", "d1", "", 0 },
    { "ALTER DATABASE d1 CHARACTER SET utf8mb4", D, "alter database", "d1", "", 0 },
    { "ALTER DATABASE CHARACTER SET utf8mb4", D, "alter database", "cur", "", 0 },
    { "ALTER SCHEMA d1 SET TIFLASH REPLICA 1", D, "alter database", "d1", "", 0 },
    { "ALTER DATABASE d1 PLACEMENT POLICY = p1", D, "alter database", "d1", "", 0 },
    /* ---- CREATE / DROP INDEX */
    { "CREATE INDEX i ON t (a)", D, "create index", "cur", "t", 0 },
    { "CREATE UNIQUE INDEX i ON db.t (a, b)", D, "create index", "db", "t", 0 },
    { "CREATE FULLTEXT INDEX ft ON t (body)", D, "create index", "cur", "t", 0 },
    { "CREATE SPATIAL INDEX sp ON t (g)", D, "create index", "cur", "t", 0 },
    { "CREATE INDEX IF NOT EXISTS i USING BTREE ON t (a)", D, "create index", "cur", "t", 0 },
    { "CREATE VECTOR INDEX vi ON t ((VEC_COSINE_DISTANCE(v))) USING HNSW", D, "create index", "cur", "t", 0 },
    { "CREATE OR REPLACE INDEX i ON t (a)", D, "create index", "cur", "t", 0 },
    { "DROP INDEX i ON t", D, "drop index", "cur", "t", 0 },
    { "DROP INDEX IF EXISTS i ON db.t", D, "drop index", "db", "t", 0 },
    { "DROP INDEX `PRIMARY` ON t", D, "drop primary key", "cur", "t", 0 },
    /* ---- ALTER TABLE single specs */
    { "ALTER TABLE t ADD INDEX i (a)", D, "add index", "cur", "t", 0 },
    { "ALTER TABLE t ADD KEY (a)", D, "add index", "cur", "t", 0 },
    { "alter table sbtest1 add index i1 (c)", D, "add index", "cur", "sbtest1", 0 },
    { "ALTER TABLE t ADD UNIQUE (a)", D, "add index", "cur", "t", 0 },
    { "ALTER TABLE t ADD UNIQUE KEY uk (a)", D, "add index", "cur", "t", 0 },
    { "ALTER TABLE t ADD FULLTEXT INDEX ft (a)", D, "add index", "cur", "t", 0 },
    { "ALTER TABLE t ADD SPATIAL KEY sk (g)", D, "add index", "cur", "t", 0 },
    { "ALTER TABLE t ADD CONSTRAINT uq UNIQUE (a)", D, "add index", "cur", "t", 0 },
    { "ALTER TABLE t ADD INDEX i(a) /*T![global_index] GLOBAL */", D, "add index", "cur", "t", 0 },
    { "ALTER TABLE t ADD INDEX idx(c) /*T! USING HASH */", D, "add index", "cur", "t", 0 },
    { "ALTER TABLE t ADD VECTOR INDEX vi ((VEC_L2_DISTANCE(v)))", D, "add index", "cur", "t", 0 },
    { "ALTER TABLE t ADD INDEX IF NOT EXISTS i (a)", D, "add index", "cur", "t", 0 },
    { "ALTER TABLE t ADD PRIMARY KEY (id)", D, "add primary key", "cur", "t", 0 },
    { "ALTER TABLE t ADD CONSTRAINT pk PRIMARY KEY (id)", D, "add primary key", "cur", "t", 0 },
    { "ALTER TABLE t ADD CONSTRAINT PRIMARY KEY (id) CLUSTERED", D, "add primary key", "cur", "t", 0 },
    { "ALTER TABLE t ADD COLUMN c INT", D, "add column", "cur", "t", 0 },
    { "ALTER TABLE t ADD c INT NOT NULL DEFAULT 0 AFTER b", D, "add column", "cur", "t", 0 },
    { "ALTER TABLE t ADD COLUMN IF NOT EXISTS c INT", D, "add column", "cur", "t", 0 },
    { "ALTER TABLE t ADD COLUMN (c INT, d INT)", D, "add column", "cur", "t", 0 },
    { "ALTER TABLE t ADD vector INT", D, "add column", "cur", "t", 0 },
    { "ALTER TABLE t ADD COLUMN c INT, ALGORITHM=INSTANT", D, "add column", "cur", "t", 0 },
    { "ALTER TABLE t ADD COLUMN c INT, ALGORITHM=INPLACE, LOCK=NONE", D, "add column", "cur", "t", 0 },
    { "ALTER TABLE t DROP COLUMN c", D, "drop column", "cur", "t", 0 },
    { "ALTER TABLE t DROP c", D, "drop column", "cur", "t", 0 },
    { "ALTER TABLE t MODIFY c BIGINT", D, "modify column", "cur", "t", 0 },
    { "ALTER TABLE t MODIFY COLUMN c VARCHAR(20) COMMENT 'a, b'", D, "modify column", "cur", "t", 0 },
    { "ALTER TABLE t MODIFY c ENUM('x','y,z')", D, "modify column", "cur", "t", 0 },
    { "ALTER TABLE t CHANGE c d INT", D, "change column", "cur", "t", 0 },
    { "ALTER TABLE t CHANGE COLUMN c d INT FIRST", D, "change column", "cur", "t", 0 },
    { "ALTER TABLE t RENAME COLUMN a TO b", D, "rename column", "cur", "t", 0 },
    { "ALTER TABLE t RENAME INDEX i TO j", D, "rename index", "cur", "t", 0 },
    { "ALTER TABLE t RENAME KEY i TO j", D, "rename index", "cur", "t", 0 },
    { "ALTER TABLE t DROP INDEX i", D, "drop index", "cur", "t", 0 },
    { "ALTER TABLE t DROP KEY i", D, "drop index", "cur", "t", 0 },
    { "ALTER TABLE t DROP PRIMARY KEY", D, "drop primary key", "cur", "t", 0 },
    { "ALTER TABLE t ADD FOREIGN KEY (a) REFERENCES p (id)", D, "add foreign key", "cur", "t", 0 },
    { "ALTER TABLE t ADD CONSTRAINT fk1 FOREIGN KEY (a) REFERENCES p (id) ON DELETE CASCADE",
      D, "add foreign key", "cur", "t", 0 },
    { "ALTER TABLE t DROP FOREIGN KEY fk1", D, "drop foreign key", "cur", "t", 0 },
    { "ALTER TABLE t ADD CHECK (a > 0)", D, "add check constraint", "cur", "t", 0 },
    { "ALTER TABLE t ADD CONSTRAINT c1 CHECK (a > 0)", D, "add check constraint", "cur", "t", 0 },
    { "ALTER TABLE t DROP CHECK c1", D, "drop check constraint", "cur", "t", 0 },
    { "ALTER TABLE t DROP CONSTRAINT c1", D, "drop constraint", "cur", "t", 0 },
    { "ALTER TABLE t ALTER CHECK c1 NOT ENFORCED", D, "alter check constraint", "cur", "t", 0 },
    { "ALTER TABLE t ALTER COLUMN c SET DEFAULT 1", D, "set default value", "cur", "t", 0 },
    { "ALTER TABLE t ALTER c DROP DEFAULT", D, "set default value", "cur", "t", 0 },
    { "ALTER TABLE t ALTER COLUMN c SET INVISIBLE", D, "alter column", "cur", "t", 0 },
    { "ALTER TABLE t ALTER INDEX i INVISIBLE", D, "alter index visibility", "cur", "t", 0 },
    /* ---- partitions */
    { "ALTER TABLE t ADD PARTITION (PARTITION p3 VALUES LESS THAN (30))", D, "add partition", "cur", "t", 0 },
    { "ALTER TABLE t ADD PARTITION PARTITIONS 4", D, "add partition", "cur", "t", 0 },
    { "ALTER TABLE t DROP PARTITION p1", D, "drop partition", "cur", "t", 0 },
    { "ALTER TABLE t DROP PARTITION p1, p2", D, "drop partition", "cur", "t", 0 },
    { "ALTER TABLE t TRUNCATE PARTITION p1, p2", D, "truncate partition", "cur", "t", 0 },
    { "ALTER TABLE t TRUNCATE PARTITION ALL", D, "truncate partition", "cur", "t", 0 },
    { "ALTER TABLE t REORGANIZE PARTITION p1, p2 INTO (PARTITION p12 VALUES LESS THAN (20))",
      D, "reorganize partition", "cur", "t", 0 },
    { "ALTER TABLE t EXCHANGE PARTITION p1 WITH TABLE t2 WITHOUT VALIDATION", D, "exchange partition", "cur", "t", 0 },
    { "ALTER TABLE t COALESCE PARTITION 2", D, "coalesce partition", "cur", "t", 0 },
    { "ALTER TABLE t REBUILD PARTITION p1, p2", D, "alter table partition", "cur", "t", 0 },
    { "ALTER TABLE t ANALYZE PARTITION p1", D, "alter table partition", "cur", "t", 0 },
    { "ALTER TABLE t PARTITION p1 PLACEMENT POLICY = p", D, "alter table partition", "cur", "t", 0 },
    { "ALTER TABLE t PARTITION BY HASH (a) PARTITIONS 4", D, "alter table partitioning", "cur", "t", 0 },
    { "ALTER TABLE t REMOVE PARTITIONING", D, "remove partitioning", "cur", "t", 0 },
    /* ---- table options */
    { "ALTER TABLE t ENGINE=InnoDB", D, "alter table options", "cur", "t", 0 },
    { "ALTER TABLE t COMMENT = 'x, y'", D, "alter table options", "cur", "t", 0 },
    { "ALTER TABLE t AUTO_INCREMENT = 1000", D, "alter table options", "cur", "t", 0 },
    { "ALTER TABLE t DEFAULT CHARSET = utf8mb4", D, "alter table options", "cur", "t", 0 },
    { "ALTER TABLE t CHARACTER SET utf8mb4 COLLATE utf8mb4_bin", D, "alter table options", "cur", "t", 0 },
    { "ALTER TABLE t CONVERT TO CHARACTER SET utf8mb4", D, "alter table options", "cur", "t", 0 },
    { "ALTER TABLE t SHARD_ROW_ID_BITS = 4", D, "alter table options", "cur", "t", 0 },
    { "ALTER TABLE t ENGINE=InnoDB COMMENT='x'", D, "alter table options", "cur", "t", 0 },
    { "ALTER TABLE t CACHE", D, "alter table cache", "cur", "t", 0 },
    { "ALTER TABLE t NOCACHE", D, "alter table nocache", "cur", "t", 0 },
    { "ALTER TABLE t SET TIFLASH REPLICA 1", D, "set tiflash replica", "cur", "t", 0 },
    { "ALTER TABLE t PLACEMENT POLICY = p1", D, "alter table placement", "cur", "t", 0 },
    { "ALTER TABLE t TTL = created_at + INTERVAL 1 DAY", D, "alter table ttl", "cur", "t", 0 },
    { "ALTER TABLE t REMOVE TTL", D, "remove ttl", "cur", "t", 0 },
    { "ALTER TABLE t FORCE", D, "alter table", "cur", "t", 0 },
    { "ALTER TABLE t", D, "alter table", "cur", "t", 0 },
    { "ALTER TABLE t ALGORITHM=COPY", D, "alter table", "cur", "t", 0 },
    { "ALTER TABLE t COMPACT TIFLASH REPLICA", O, "", "cur", "t", 0 },
    { "ALTER ONLINE IGNORE TABLE t ADD INDEX i (a)", D, "add index", "cur", "t", 0 },
    { "ALTER TABLE IF EXISTS t ADD COLUMN c INT", D, "add column", "cur", "t", 0 },
    /* ---- multi-schema change */
    { "ALTER TABLE t ADD COLUMN a INT, ADD COLUMN b INT", D, "alter table multi-schema change", "cur", "t", 0 },
    { "ALTER TABLE t ADD INDEX i (a, b), DROP COLUMN c", D, "alter table multi-schema change", "cur", "t", 0 },
    { "ALTER TABLE t MODIFY a INT, MODIFY b INT, ALGORITHM=INPLACE", D, "alter table multi-schema change",
      "cur", "t", 0 },
    { "ALTER TABLE db.t DROP INDEX i, ADD INDEX i (a) /*T! GLOBAL */", D, "alter table multi-schema change",
      "db", "t", 0 },
    /* ---- views */
    { "CREATE VIEW v AS SELECT 1", D, "create view", "cur", "v", 0 },
    { "CREATE OR REPLACE ALGORITHM=MERGE DEFINER=`root`@`%` SQL SECURITY INVOKER VIEW db.v AS SELECT 1",
      D, "create view", "db", "v", 0 },
    { "CREATE DEFINER='u'@'localhost' VIEW v AS SELECT 1", D, "create view", "cur", "v", 0 },
    { "CREATE DEFINER=CURRENT_USER() VIEW v AS SELECT 1", D, "create view", "cur", "v", 0 },
    { "/*!50001 CREATE ALGORITHM=UNDEFINED */ /*!50013 DEFINER=`root`@`localhost` SQL SECURITY DEFINER */"
      " /*!50001 VIEW `v1` AS select 1 AS `a` */", D, "create view", "cur", "v1", 0 },
    { "ALTER VIEW v AS SELECT 2", D, "alter view", "cur", "v", 0 },
    { "DROP VIEW IF EXISTS v1, v2", D, "drop view", "cur", "v1", 0 },
    /* ---- sequences, placement policies, resource groups */
    { "CREATE SEQUENCE seq START WITH 1 INCREMENT BY 2", D, "create sequence", "cur", "seq", 0 },
    { "CREATE SEQUENCE IF NOT EXISTS db.seq", D, "create sequence", "db", "seq", 0 },
    { "ALTER SEQUENCE seq RESTART WITH 10", D, "alter sequence", "cur", "seq", 0 },
    { "DROP SEQUENCE IF EXISTS seq", D, "drop sequence", "cur", "seq", 0 },
    { "CREATE TEMPORARY SEQUENCE s", O, "", "", "", 0 },
    { "CREATE PLACEMENT POLICY p1 PRIMARY_REGION=\"us-east-1\" REGIONS=\"us-east-1,us-west-1\"",
      D, "create placement policy", "", "", 0 },
    { "CREATE PLACEMENT POLICY IF NOT EXISTS p1 FOLLOWERS=4", D, "create placement policy", "", "", 0 },
    { "ALTER PLACEMENT POLICY p1 FOLLOWERS=2", D, "alter placement policy", "", "", 0 },
    { "DROP PLACEMENT POLICY IF EXISTS p1", D, "drop placement policy", "", "", 0 },
    { "CREATE RESOURCE GROUP rg1 RU_PER_SEC = 500", D, "create resource group", "", "", 0 },
    { "ALTER RESOURCE GROUP rg1 RU_PER_SEC = 1000 BURSTABLE", D, "alter resource group", "", "", 0 },
    { "DROP RESOURCE GROUP IF EXISTS rg1", D, "drop resource group", "", "", 0 },
    /* ---- TiDB: flashback, recover, admin */
    { "FLASHBACK TABLE t", D, "flashback", "cur", "t", 0 },
    { "FLASHBACK TABLE db.t TO t2", D, "flashback", "db", "t", 0 },
    { "FLASHBACK DATABASE d1 TO d2", D, "flashback", "d1", "", 0 },
    { "FLASHBACK CLUSTER TO TIMESTAMP '2024-01-01 00:00:00'", D, "flashback", "", "", 0 },
    { "FLASHBACK CLUSTER TO TSO 445494839813079041", D, "flashback", "", "", 0 },
    { "RECOVER TABLE t", D, "recover table", "cur", "t", 0 },
    { "RECOVER TABLE BY JOB 51", D, "recover table", "", "", 0 },
    { "ADMIN CANCEL DDL JOBS 1", ADM, "admin ddl", "", "", 0 },
    { "ADMIN CANCEL DDL JOBS 1, 2", ADM, "admin ddl", "", "", 0 },
    { "ADMIN PAUSE DDL JOBS 3", ADM, "admin ddl", "", "", 0 },
    { "ADMIN RESUME DDL JOBS 3, 4", ADM, "admin ddl", "", "", 0 },
    { "admin resume ddl jobs 7", ADM, "admin ddl", "", "", 0 },
    { "ADMIN SHOW DDL JOBS 10", O, "", "", "", 0 },
    { "ADMIN CHECK TABLE t", O, "", "", "", 0 },
    /* ---- account statements */
    { "CREATE USER u IDENTIFIED BY 'pw'", A, "account", "", "", 0 },
    { "CREATE USER IF NOT EXISTS 'u'@'%' IDENTIFIED WITH caching_sha2_password BY 'pw'", A, "account", "", "", 0 },
    { "ALTER USER u IDENTIFIED BY 'pw'", A, "account", "", "", 0 },
    { "DROP USER u", A, "account", "", "", 0 },
    { "RENAME USER a TO b", A, "account", "", "", 0 },
    { "SET PASSWORD FOR u = 'pw'", A, "account", "", "", 0 },
    { "set password = password('pw')", A, "account", "", "", 0 },
    { "GRANT SELECT ON db.* TO u", A, "account", "", "", 0 },
    { "REVOKE ALL PRIVILEGES ON *.* FROM u", A, "account", "", "", 0 },
    { "CREATE ROLE r1", A, "account", "", "", 0 },
    { "DROP ROLE IF EXISTS r1", A, "account", "", "", 0 },
    { "CREATE OR REPLACE USER u", A, "account", "", "", 0 },
    /* ---- USE */
    { "USE db1", U, "use", "db1", "", 0 },
    { "use `my db`", U, "use", "my db", "", 0 },
    /* ---- not DDL, even though it looks like it */
    { "SELECT 'alter table t add index i(a)'", O, "", "", "", 0 },
    { "SELECT \"drop table t\"", O, "", "", "", 0 },
    { "-- alter table t add column c int\nselect 1", O, "", "", "", 0 },
    { "# drop table t\nselect 1", O, "", "", "", 0 },
    { "/* CREATE TABLE t (a int) */ SELECT 1", O, "", "", "", 0 },
    { "/*+ ALTER TABLE */ SELECT 1", O, "", "", "", 0 },
    { "INSERT INTO t VALUES ('create table x (a int)')", O, "", "", "", 0 },
    { "UPDATE t SET a = 'drop database d'", O, "", "", "", 0 },
    { "SET @a = 1", O, "", "", "", 0 },
    { "SET NAMES utf8mb4", O, "", "", "", 0 },
    { "CREATE PROCEDURE p() SELECT 1", O, "", "", "", 0 },
    { "CREATE GLOBAL BINDING FOR SELECT 1 USING SELECT 1", O, "", "", "", 0 },
    { "DROP STATS t", O, "", "", "", 0 },
    { "CREATE", O, "", "", "", 0 },
    { "ALTER", O, "", "", "", 0 },
    { "ALTER TABLE", D, "alter table", "", "", 0 },
    { "FLASHBACK", O, "", "", "", 0 },
    { "TABLE t", O, "", "", "", 0 },
    /* ---- executable comments */
    { "/*!40101 ALTER TABLE t ADD COLUMN x INT */", D, "add column", "cur", "t", 0 },
    { "/*!80000 DROP TABLE t */", D, "drop table", "cur", "t", 0 },
    { "/*!100100 DROP TABLE t */", D, "drop table", "cur", "t", 0 },
    { "/*M!100100 CREATE DATABASE md */", D, "create database", "md", "", 0 },
    { "/*T! ALTER TABLE t CACHE */", D, "alter table cache", "cur", "t", 0 },
    { "/*T![auto_rand] ALTER TABLE t AUTO_RANDOM_BASE = 0 */", D, "alter table options", "cur", "t", 0 },
    { "/*! ALTER TABLE t ENGINE=InnoDB */", D, "alter table options", "cur", "t", 0 },
    { "ALTER /*!40101 TABLE */ t DROP COLUMN c", D, "drop column", "cur", "t", 0 },
    /* ---- tricky quoting and comments */
    { "ALTER TABLE t COMMENT 'it''s; fine'", D, "alter table options", "cur", "t", 0 },
    { "ALTER TABLE t COMMENT 'esc \\' ; still string'", D, "alter table options", "cur", "t", 0 },
    { "ALTER TABLE t COMMENT \"dq \"\" ; \\\" x\"", D, "alter table options", "cur", "t", 0 },
    { "ALTER TABLE `we``ird;name` ADD COLUMN c INT", D, "add column", "cur", "we`ird;name", 0 },
    { "ALTER TABLE `db.x`.`t.y` ADD COLUMN c INT", D, "add column", "db.x", "t.y", 0 },
    { "ALTER TABLE t ADD COLUMN c INT DEFAULT 1--1", D, "add column", "cur", "t", 0 },
    { "  \n\t/* lead */ -- c\n # c\n DROP TABLE t", D, "drop table", "cur", "t", 0 },
    { "DROP/**/TABLE/**/t", D, "drop table", "cur", "t", 0 },
    { "ALTER TABLE t ADD COLUMN c INT -- trailing ; comment", D, "add column", "cur", "t", 0 },
    { "ALTER TABLE t ADD COLUMN c INT # trailing ; comment", D, "add column", "cur", "t", 0 },
    { "ALTER TABLE t ADD COLUMN c INT /* ; */", D, "add column", "cur", "t", 0 },
    { "ALTER TABLE \"t\" ADD COLUMN c INT", D, "add column", "cur", "t", 0 },
    /* ---- multi-statements: DDL in 2nd / 3rd position */
    { "SELECT 1; ALTER TABLE t ADD INDEX i (a)", D, "add index", "cur", "t", 1 },
    { "SELECT ';'; SELECT 2; DROP TABLE t", D, "drop table", "cur", "t", 2 },
    { "INSERT INTO t VALUES ('a;b'); CREATE TABLE `x;y` (a INT); SELECT 1", D, "create table", "cur", "x;y", 1 },
    { "SELECT 1--1; TRUNCATE t", D, "truncate table", "cur", "t", 1 },
    { "SELECT 1 -- ; DROP TABLE t\n; CREATE DATABASE d", D, "create database", "d", "", 1 },
    { "use d2; alter table t add column c int", D, "add column", "cur", "t", 1 },
    { ";; SELECT 1;;; DROP TABLE t;", D, "drop table", "cur", "t", 1 },
    { "/*!40101 SET NAMES utf8 */; ALTER TABLE t ADD COLUMN c INT", D, "add column", "cur", "t", 1 },
    { "SET STATEMENT max_statement_time=60 FOR ALTER TABLE t ADD INDEX i (a)", D, "add index", "cur", "t", 0 },
    { "CREATE PROCEDURE p() BEGIN SELECT 1; SELECT 2; END; DROP TABLE t", D, "drop table", "cur", "t", 1 },
    { "CREATE DEFINER=`root`@`%` TRIGGER tr BEFORE INSERT ON t FOR EACH ROW BEGIN "
      "IF NEW.a > 0 THEN SET NEW.b = CASE WHEN 1 THEN 2 END; END IF; END; ALTER TABLE t CACHE",
      D, "alter table cache", "cur", "t", 1 },
    { "BEGIN NOT ATOMIC DECLARE x INT; SET x = 1; END; DROP VIEW v", D, "drop view", "cur", "v", 1 },
    { "CREATE TABLE begin (a INT); DROP TABLE begin", D, "drop table", "cur", "begin", 1 },
};

#define N_CASES (sizeof cases / sizeof cases[0])

static void test_table(void)
{
    unsigned failures = 0;
    for (size_t i = 0; i < N_CASES; i++) {
        const struct cls_case *c = &cases[i];
        struct ddl_stmt *st = NULL;
        int n = ddl_classify(c->sql, strlen(c->sql), "cur", &st);
        bool ok = n > (int)c->at && st != NULL;
        if (ok) {
            const struct ddl_stmt *s = &st[c->at];
            ok = s->cls == c->cls && strcmp(s->kind, c->kind) == 0 && strcmp(s->db, c->db) == 0
                 && strcmp(s->table, c->table) == 0 && s->index == c->at;
            if (!ok)
                fprintf(stderr, "\n  case %zu [%s]: got cls=%d kind='%s' db='%s' table='%s'", i, c->sql,
                        (int)s->cls, s->kind, s->db, s->table);
        } else {
            fprintf(stderr, "\n  case %zu [%s]: %d statements", i, c->sql, n);
        }
        if (!ok)
            failures++;
        ddl_stmts_free(st, n);
    }
    CU_ASSERT_EQUAL(failures, 0);
    CU_ASSERT(N_CASES >= 150);
}

/* Every kind the classifier knows appears in the table above (or in a test below). */
static void test_every_kind_covered(void)
{
    static const char *const covered_elsewhere[] = { NULL };
    for (size_t k = 0; k < ddl_kind_count(); k++) {
        const char *kind = ddl_kind_at(k);
        bool found = false;
        for (size_t i = 0; i < N_CASES && !found; i++)
            found = strcmp(cases[i].kind, kind) == 0;
        for (size_t i = 0; covered_elsewhere[i] && !found; i++)
            found = strcmp(covered_elsewhere[i], kind) == 0;
        if (!found)
            fprintf(stderr, "\n  kind '%s' has no test case", kind);
        CU_ASSERT(found);
    }
    CU_ASSERT_PTR_NULL(ddl_kind_at(ddl_kind_count()));
}

/* ddl_maybe() must be true whenever the classifier finds a tracked statement. */
static void test_maybe_property(void)
{
    for (size_t i = 0; i < N_CASES; i++) {
        struct ddl_stmt *st = NULL;
        int n = ddl_classify(cases[i].sql, strlen(cases[i].sql), "cur", &st);
        bool tracked = false;
        for (int j = 0; j < n; j++)
            tracked = tracked || st[j].cls != STMT_OTHER;
        if (tracked && !ddl_maybe(cases[i].sql, strlen(cases[i].sql)))
            fprintf(stderr, "\n  ddl_maybe missed [%s]", cases[i].sql);
        CU_ASSERT(!tracked || ddl_maybe(cases[i].sql, strlen(cases[i].sql)));
        ddl_stmts_free(st, n);
    }
}

static void test_maybe_negative(void)
{
    static const char *const plain[] = {
        "SELECT 1", "select * from t where a = 'alter table'", "INSERT INTO t VALUES (1)",
        "-- drop table t\nSELECT 1", "/* create table x */ select 1", "SET autocommit = 1",
        "SET NAMES utf8mb4; SELECT 1; INSERT INTO t VALUES ('; drop table t')",
        "SELECT 1 # ; drop table t", "", "   ", "/*", "'unterminated ; drop table t",
        "SHOW CREATE TABLE t", "EXPLAIN SELECT 1", "BEGIN", "COMMIT", "START TRANSACTION",
    };
    for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++) {
        if (ddl_maybe(plain[i], strlen(plain[i])))
            fprintf(stderr, "\n  ddl_maybe true for [%s]", plain[i]);
        CU_ASSERT(!ddl_maybe(plain[i], strlen(plain[i])));
    }
    CU_ASSERT(ddl_maybe("SELECT 1; SELECT 2; drop table t", 32));
    CU_ASSERT(ddl_maybe("/*!40101 ALTER TABLE t ENGINE=InnoDB */", 39));
    CU_ASSERT(ddl_maybe("SET PASSWORD = 'x'", 18));
    CU_ASSERT(!ddl_maybe(NULL, 0));
}

/* ---- multi-statement bookkeeping */

static void test_multi_indexes_and_spans(void)
{
    const char *sql = "SELECT 1;\n  ALTER TABLE t ADD COLUMN c INT ; /*x*/ SELECT ';' ;DROP TABLE `a;b`;  ";
    struct ddl_stmt *st = NULL;
    int n = ddl_classify(sql, strlen(sql), "d", &st);
    CU_ASSERT_EQUAL_FATAL(n, 4);
    for (int i = 0; i < n; i++)
        CU_ASSERT_EQUAL(st[i].index, (unsigned)i);
    CU_ASSERT_EQUAL(st[0].cls, STMT_OTHER);
    CU_ASSERT_STRING_EQUAL(st[0].redacted, "SELECT 1");
    CU_ASSERT_EQUAL(st[1].cls, STMT_DDL);
    CU_ASSERT_EQUAL(st[1].offset, 12);
    CU_ASSERT_EQUAL(st[1].length, strlen("ALTER TABLE t ADD COLUMN c INT"));
    CU_ASSERT_STRING_EQUAL(st[1].redacted, "ALTER TABLE t ADD COLUMN c INT");
    CU_ASSERT_STRING_EQUAL(st[2].redacted, "SELECT ';'");
    CU_ASSERT_STRING_EQUAL(st[3].redacted, "DROP TABLE `a;b`");
    CU_ASSERT_STRING_EQUAL(st[3].table, "a;b");
    CU_ASSERT_STRING_EQUAL(st[3].db, "d");
    CU_ASSERT_EQUAL(memcmp(sql + st[3].offset, "DROP", 4), 0);
    ddl_stmts_free(st, n);

    /* nothing but separators and comments: no statement at all */
    n = ddl_classify(" ; ;/* c */ -- x\n", 17, "d", &st);
    CU_ASSERT_EQUAL(n, 0);
    CU_ASSERT_PTR_NULL(st);
    n = ddl_classify(NULL, 0, NULL, &st);
    CU_ASSERT_EQUAL(n, 0);
}

static void test_exec_comment_span(void)
{
    const char *sql = "/*!40101 SET NAMES utf8 */;\n/*!40101 ALTER TABLE t ADD COLUMN x INT */;";
    struct ddl_stmt *st = NULL;
    int n = ddl_classify(sql, strlen(sql), NULL, &st);
    CU_ASSERT_EQUAL_FATAL(n, 2);
    CU_ASSERT_STRING_EQUAL(st[0].redacted, "/*!40101 SET NAMES utf8 */");
    CU_ASSERT_STRING_EQUAL(st[1].redacted, "/*!40101 ALTER TABLE t ADD COLUMN x INT */");
    CU_ASSERT_STRING_EQUAL(st[1].db, "");   /* no default db given */
    CU_ASSERT_STRING_EQUAL(st[1].kind, "add column");
    ddl_stmts_free(st, n);

    sql = "ALTER TABLE t ADD INDEX i(a) /*T![global_index] GLOBAL */";
    n = ddl_classify(sql, strlen(sql), "d", &st);
    CU_ASSERT_EQUAL_FATAL(n, 1);
    CU_ASSERT_STRING_EQUAL(st[0].redacted, sql);
    ddl_stmts_free(st, n);

    /* a ';' inside an executable comment separates statements, as the server sees them */
    sql = "/*!40101 SELECT 1; DROP TABLE t */";
    n = ddl_classify(sql, strlen(sql), "d", &st);
    CU_ASSERT_EQUAL_FATAL(n, 2);
    CU_ASSERT_STRING_EQUAL(st[1].kind, "drop table");
    CU_ASSERT_STRING_EQUAL(st[1].redacted, "DROP TABLE t");
    ddl_stmts_free(st, n);
}

static void test_details(void)
{
    struct ddl_stmt *st = NULL;
    const char *sql = "ALTER TABLE t ADD COLUMN a INT, DROP INDEX i, ALGORITHM=INPLACE, RENAME TO t2";
    int n = ddl_classify(sql, strlen(sql), "d", &st);
    CU_ASSERT_EQUAL_FATAL(n, 1);
    CU_ASSERT_EQUAL(st[0].n_specs, 3);
    CU_ASSERT_STRING_EQUAL(st[0].spec_kinds[0], "add column");
    CU_ASSERT_STRING_EQUAL(st[0].spec_kinds[1], "drop index");
    CU_ASSERT_STRING_EQUAL(st[0].spec_kinds[2], "rename table");
    CU_ASSERT_STRING_EQUAL(st[0].object, "t2");
    ddl_stmts_free(st, n);

    sql = "ADMIN RESUME DDL JOBS 3, 4";
    n = ddl_classify(sql, strlen(sql), "d", &st);
    CU_ASSERT_EQUAL_FATAL(n, 1);
    CU_ASSERT_EQUAL(st[0].n_job_ids, 2);
    CU_ASSERT_EQUAL(st[0].job_ids[0], 3);
    CU_ASSERT_EQUAL(st[0].job_ids[1], 4);
    CU_ASSERT_STRING_EQUAL(st[0].object, "resume");
    ddl_stmts_free(st, n);

    sql = "CREATE UNIQUE INDEX `idx 1` ON t (a)";
    n = ddl_classify(sql, strlen(sql), "d", &st);
    CU_ASSERT_EQUAL_FATAL(n, 1);
    CU_ASSERT_STRING_EQUAL(st[0].object, "idx 1");
    CU_ASSERT_EQUAL(st[0].n_specs, 0);
    ddl_stmts_free(st, n);

    sql = "RECOVER TABLE BY JOB 51";
    n = ddl_classify(sql, strlen(sql), "d", &st);
    CU_ASSERT_EQUAL_FATAL(n, 1);
    CU_ASSERT_EQUAL(st[0].n_job_ids, 1);
    CU_ASSERT_EQUAL(st[0].job_ids[0], 51);
    ddl_stmts_free(st, n);

    /* over-long identifiers are cut at a character boundary: "é" is 2 bytes */
    char long_sql[700] = "DROP TABLE `";
    size_t len = strlen(long_sql);
    for (int i = 0; i < 200; i++) {
        memcpy(long_sql + len, "\xc3\xa9", 2);
        len += 2;
    }
    memcpy(long_sql + len, "`", 2);
    n = ddl_classify(long_sql, strlen(long_sql), "d", &st);
    CU_ASSERT_EQUAL_FATAL(n, 1);
    CU_ASSERT_EQUAL(strlen(st[0].table), 254);
    ddl_stmts_free(st, n);

    CU_ASSERT_STRING_EQUAL(stmt_class_name(STMT_DDL), "ddl");
    CU_ASSERT_STRING_EQUAL(stmt_class_name(STMT_OTHER), "other");
}

/* Unterminated and otherwise broken input: a result, no crash, spans inside the text. */
static void test_malformed(void)
{
    static const char *const broken[] = {
        "ALTER TABLE `t", "ALTER TABLE t COMMENT 'x", "/*!40101 ALTER TABLE t", "DROP TABLE \"",
        "/* never closed ALTER TABLE t", "CREATE TABLE t (((((", "ALTER TABLE t ADD ))))), ,,,",
        "/*T![", "/*T![x", "/*M!", "/*!", "*/ DROP TABLE t", "ALTER TABLE .", "ALTER TABLE a.",
        "ALTER TABLE a..b", "\\", "'\\", "ADMIN CANCEL DDL JOBS", "ADMIN CANCEL DDL JOBS 1,",
        "CREATE DEFINER=", "CREATE INDEX", "CREATE INDEX i ON", "SET STATEMENT x=1",
        "SET STATEMENT x=1 FOR", "RENAME TABLE", "USE", "DROP INDEX i ON",
    };
    for (size_t i = 0; i < sizeof broken / sizeof broken[0]; i++) {
        size_t len = strlen(broken[i]);
        struct ddl_stmt *st = NULL;
        int n = ddl_classify(broken[i], len, "d", &st);
        CU_ASSERT(n >= 0);
        for (int j = 0; j < n; j++) {
            CU_ASSERT(st[j].offset + st[j].length <= len);
            CU_ASSERT_PTR_NOT_NULL(st[j].redacted);
            CU_ASSERT_PTR_NOT_NULL(st[j].kind);
        }
        ddl_stmts_free(st, n);
    }
    struct ddl_stmt *st = NULL;
    int n = ddl_classify("ALTER TABLE `t", 14, "d", &st);
    CU_ASSERT_EQUAL_FATAL(n, 1);
    CU_ASSERT_STRING_EQUAL(st[0].table, "t");
    ddl_stmts_free(st, n);
    /* an embedded NUL is just a byte */
    n = ddl_classify("DROP TABLE t\0; DROP TABLE u", 27, "d", &st);
    CU_ASSERT_EQUAL_FATAL(n, 2);
    CU_ASSERT_STRING_EQUAL(st[1].table, "u");
    ddl_stmts_free(st, n);
}

/* ---- redaction */

struct redact_case {
    const char *sql;
    const char *secret;     /* must not survive */
    const char *expect;     /* exact output, or NULL */
};

static const struct redact_case redact_cases[] = {
    { "CREATE USER u IDENTIFIED BY 'S3cret!'", "S3cret", "CREATE USER u IDENTIFIED BY '***'" },
    { "create user 'u'@'%' identified by \"S3cret\"", "S3cret", "create user 'u'@'%' identified by '***'" },
    { "ALTER USER u IDENTIFIED BY PASSWORD '*A4B6157319038724E3560894F7F932C8886EBFCF'",
      "A4B6157319038724", "ALTER USER u IDENTIFIED BY PASSWORD '***'" },
    { "CREATE USER u IDENTIFIED WITH mysql_native_password BY 'S3cret'", "S3cret",
      "CREATE USER u IDENTIFIED WITH mysql_native_password BY '***'" },
    { "CREATE USER u IDENTIFIED WITH 'caching_sha2_password' AS '$A$005$HaShSeCrEt'", "HaShSeCrEt",
      "CREATE USER u IDENTIFIED WITH 'caching_sha2_password' AS '***'" },
    { "ALTER USER u IDENTIFIED BY 'N3w' REPLACE '0ld' RETAIN CURRENT PASSWORD", "0ld",
      "ALTER USER u IDENTIFIED BY '***' REPLACE '***' RETAIN CURRENT PASSWORD" },
    { "ALTER USER u IDENTIFIED BY 'N3w' REPLACE '0ld'", "N3w", NULL },
    { "CREATE USER a IDENTIFIED BY 'Sa1', b IDENTIFIED BY 'Sb2'", "Sb2",
      "CREATE USER a IDENTIFIED BY '***', b IDENTIFIED BY '***'" },
    { "CREATE USER a IDENTIFIED BY 'Sa1', b IDENTIFIED BY 'Sb2'", "Sa1", NULL },
    { "GRANT ALL ON *.* TO u IDENTIFIED BY 'S3cret' WITH GRANT OPTION", "S3cret",
      "GRANT ALL ON *.* TO u IDENTIFIED BY '***' WITH GRANT OPTION" },
    { "SET PASSWORD = 'S3cret'", "S3cret", "SET PASSWORD = '***'" },
    { "SET PASSWORD FOR 'u'@'h' = 'S3cret'", "S3cret", "SET PASSWORD FOR 'u'@'h' = '***'" },
    { "SET PASSWORD FOR u = PASSWORD('S3cret')", "S3cret", "SET PASSWORD FOR u = PASSWORD('***')" },
    { "set password for u = old_password('S3cret')", "S3cret", "set password for u = old_password('***')" },
    { "SET PASSWORD = 'N3w' REPLACE '0ld'", "0ld", "SET PASSWORD = '***' REPLACE '***'" },
    { "CHANGE MASTER TO MASTER_HOST='h', MASTER_USER='r', MASTER_PASSWORD='S3cret'", "S3cret",
      "CHANGE MASTER TO MASTER_HOST='h', MASTER_USER='r', MASTER_PASSWORD='***'" },
    { "CHANGE REPLICATION SOURCE TO SOURCE_PASSWORD = 'S3cret', SOURCE_PORT=3306", "S3cret",
      "CHANGE REPLICATION SOURCE TO SOURCE_PASSWORD = '***', SOURCE_PORT=3306" },
    { "START REPLICA USER='r' PASSWORD='S3cret'", "S3cret", "START REPLICA USER='r' PASSWORD='***'" },
    { "CREATE SERVER s FOREIGN DATA WRAPPER mysql OPTIONS (USER 'r', PASSWORD 'S3cret', PORT 3306)",
      "S3cret", "CREATE SERVER s FOREIGN DATA WRAPPER mysql OPTIONS (USER 'r', PASSWORD '***', PORT 3306)" },
    { "CREATE USER u IDENTIFIED VIA ed25519 USING PASSWORD('S3cret')", "S3cret",
      "CREATE USER u IDENTIFIED VIA ed25519 USING PASSWORD('***')" },
    { "CREATE USER u IDENTIFIED VIA mysql_native_password USING '*HaShSeCrEt'", "HaShSeCrEt", NULL },
    { "SELECT PASSWORD('S3cret')", "S3cret", "SELECT PASSWORD('***')" },
    /* malformed: never leak */
    { "CREATE USER u IDENTIFIED BY 'S3cret", "S3cret", "CREATE USER u IDENTIFIED BY '***'" },
    { "CREATE USER u IDENTIFIED BY 'S3c\\'ret; DROP TABLE t", "ret", "CREATE USER u IDENTIFIED BY '***'" },
    { "CREATE USER u IDENTIFIED BY S3cret", "S3cret", "CREATE USER u IDENTIFIED BY '***'" },
    { "CREATE USER u IDENTIFIED BY 12345678", "12345678", NULL },
    { "CREATE USER u IDENTIFIED BY 'S3c' 'ret'", "ret", "CREATE USER u IDENTIFIED BY '***' '***'" },
    { "CREATE USER u IDENTIFIED BY _utf8mb4'S3cret'", "S3cret", "CREATE USER u IDENTIFIED BY _utf8mb4'***'" },
    { "CREATE USER u IDENTIFIED BY X'533363726574'", "533363726574", NULL },
    { "CREATE USER u IDENTIFIED BY /* c */ 'S3cret'", "S3cret", NULL },
    { "CREATE USER u /*!80000 IDENTIFIED BY 'S3cret' */", "S3cret", NULL },
    { "SET PASSWORD = PASSWORD('S3cret", "S3cret", NULL },
    { "CREATE USER u IDENTIFIED BY ('S3cret')", "S3cret", NULL },
    { "MASTER_PASSWORD = S3cret", "S3cret", NULL },
    { "select 1; create user u identified by 'S3cret'; select 'S3' 'cret'", "S3cret", NULL },
};

static void test_redaction(void)
{
    for (size_t i = 0; i < sizeof redact_cases / sizeof redact_cases[0]; i++) {
        const struct redact_case *c = &redact_cases[i];
        char *r = sql_redact(c->sql, strlen(c->sql));
        CU_ASSERT_PTR_NOT_NULL_FATAL(r);
        if (strstr(r, c->secret) || (c->expect && strcmp(r, c->expect) != 0))
            fprintf(stderr, "\n  redact [%s] -> [%s]", c->sql, r);
        CU_ASSERT_PTR_NULL(strstr(r, c->secret));
        if (c->expect)
            CU_ASSERT_STRING_EQUAL(r, c->expect);
        free(r);

        /* the classifier's per-statement copies are redacted the same way */
        struct ddl_stmt *st = NULL;
        int n = ddl_classify(c->sql, strlen(c->sql), "d", &st);
        for (int j = 0; j < n; j++)
            CU_ASSERT_PTR_NULL(strstr(st[j].redacted, c->secret));
        ddl_stmts_free(st, n);
    }
}

static void test_redaction_keeps_the_rest(void)
{
    static const char *const untouched[] = {
        "SELECT 'a', \"b\", `c` FROM t WHERE x = 'y'",
        "ALTER USER u PASSWORD EXPIRE INTERVAL 90 DAY",
        "CREATE USER u PASSWORD HISTORY 5 COMMENT 'by me'",
        "ALTER TABLE t ADD COLUMN password VARCHAR(64) COMMENT 'hashed'",
        "UPDATE users SET password_hash = 'abc' WHERE id = 1",
        "SELECT 1 -- IDENTIFIED BY 'x'\n",
        "SET PASSWORD TO RANDOM",
    };
    for (size_t i = 0; i < sizeof untouched / sizeof untouched[0]; i++) {
        char *r = sql_redact(untouched[i], strlen(untouched[i]));
        CU_ASSERT_PTR_NOT_NULL_FATAL(r);
        if (strcmp(r, untouched[i]) != 0)
            fprintf(stderr, "\n  changed [%s] -> [%s]", untouched[i], r);
        CU_ASSERT_STRING_EQUAL(r, untouched[i]);
        free(r);
    }
    char *r = sql_redact(NULL, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CU_ASSERT_STRING_EQUAL(r, "");
    free(r);

    struct ddl_stmt *st = NULL;
    const char *sql = "SELECT 1; CREATE USER u IDENTIFIED BY 'S3cret' ; SET PASSWORD FOR u = 'Zz9'";
    int n = ddl_classify(sql, strlen(sql), "d", &st);
    CU_ASSERT_EQUAL_FATAL(n, 3);
    CU_ASSERT_EQUAL(st[1].cls, STMT_ACCOUNT);
    CU_ASSERT_STRING_EQUAL(st[1].redacted, "CREATE USER u IDENTIFIED BY '***'");
    CU_ASSERT_STRING_EQUAL(st[2].redacted, "SET PASSWORD FOR u = '***'");
    ddl_stmts_free(st, n);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return CU_get_error();
    CU_pSuite suite = CU_add_suite("ddl_classify", NULL, NULL);
    if (!suite
        || !CU_add_test(suite, "classification table", test_table)
        || !CU_add_test(suite, "every kind covered", test_every_kind_covered)
        || !CU_add_test(suite, "ddl_maybe never misses", test_maybe_property)
        || !CU_add_test(suite, "ddl_maybe on plain queries", test_maybe_negative)
        || !CU_add_test(suite, "multi-statement indexes and spans", test_multi_indexes_and_spans)
        || !CU_add_test(suite, "executable comment spans", test_exec_comment_span)
        || !CU_add_test(suite, "specs, job ids, names", test_details)
        || !CU_add_test(suite, "malformed input", test_malformed)
        || !CU_add_test(suite, "redaction removes secrets", test_redaction)
        || !CU_add_test(suite, "redaction keeps the rest", test_redaction_keeps_the_rest)) {
        CU_cleanup_registry();
        return CU_get_error();
    }
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}

-- A small OLTP-ish workload for the sqlite3 shell: bulk insert, index, aggregate, update, delete.
PRAGMA cache_size = -32000;
CREATE TABLE t(id INTEGER PRIMARY KEY, k INTEGER, v TEXT);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 200000)
INSERT INTO t SELECT i, (i * 7919) % 10007, printf('value-%08d', i) FROM n;
CREATE INDEX t_k ON t(k);
SELECT k % 10, count(*), sum(length(v)) FROM t GROUP BY k % 10 ORDER BY 1;
UPDATE t SET v = v || '-x' WHERE k % 3 = 0;
DELETE FROM t WHERE k % 5 = 0;
SELECT count(*) FROM t;

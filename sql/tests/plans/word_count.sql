-- Word count: split, clean, count, top ten.
CREATE TABLE lines (line STRING) WITH ('connector' = 'files', 'path' = 'words.txt', 'format' = 'text');
EXPLAIN SELECT lower(trim(word)) AS word, COUNT(*) AS n
FROM lines CROSS JOIN LATERAL TABLE(words(line)) AS t(word)
GROUP BY lower(trim(word)) ORDER BY n DESC LIMIT 10;

-- Word count: a text file split into words by a lateral table function.
CREATE TABLE lines (line STRING) WITH ('connector' = 'files', 'path' = 'dataflow.txt', 'format' = 'text');
SELECT lower(word) AS word, COUNT(*) AS n
FROM lines CROSS JOIN LATERAL TABLE(words(line)) AS t(word)
GROUP BY lower(word)
HAVING COUNT(*) > 2;

"""Spark's side of bench/compare.sh: the same jobs as Faro's specs, in
local[2]. Three times: the start (from this script's start to a ready
session: the JVM and its set-up, which a spark-submit of one job pays
as `faro run` pays its own start), and the job twice in that session,
each from just before the action to just after it: the first run pays
for class loading and code generation, the second shows Spark warm.
Prints `<job> <start seconds> <cold seconds> <warm seconds>`.

    python spark_jobs.py <job> [<input>]   (job: shuffle-agg, wordcount, sort)
"""

import time

STARTED = time.monotonic()

import sys  # noqa: E402

from pyspark.sql import SparkSession
from pyspark.sql import functions as F


def session():
    return (
        SparkSession.builder.master("local[2]")
        .config("spark.driver.memory", "8g")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.ui.enabled", "false")
        .getOrCreate()
    )


def shuffle_agg(spark, _):
    rows = spark.range(20_000_000).select((F.col("id") % 1_000_000).alias("key"), F.col("id").alias("val"))
    totals = rows.groupBy("key").agg(F.sum("val").alias("total"), F.count("*").alias("n"))
    return totals.orderBy(F.col("total").desc()).limit(5).collect()


def wordcount(spark, path):
    lines = spark.read.text(path)
    words = lines.select(F.explode(F.split(F.col("value"), " ")).alias("word"))
    words = words.select(F.lower(F.trim(F.col("word"))).alias("word"))
    counts = words.groupBy("word").agg(F.count("*").alias("n"))
    return counts.orderBy(F.col("n").desc(), F.col("word")).limit(10).collect()


def sort(spark, path):
    rows = spark.read.schema("key STRING, payload STRING").option("header", "true").csv(path)
    rows.orderBy("key").write.format("noop").mode("overwrite").save()


JOBS = {"shuffle-agg": shuffle_agg, "wordcount": wordcount, "sort": sort}

if __name__ == "__main__":
    job = sys.argv[1]
    spark = session()
    spark.sparkContext.setLogLevel("ERROR")
    start = time.monotonic() - STARTED
    path = sys.argv[2] if len(sys.argv) > 2 else None
    times = []
    for _ in range(2):
        started = time.monotonic()
        JOBS[job](spark, path)
        times.append(time.monotonic() - started)
    print(job, *(f"{t:.2f}" for t in [start, *times]))
    spark.stop()

package radar.graphx;

import org.apache.spark.graphx.Graph;
import org.apache.spark.graphx.lib.ConnectedComponents;
import org.apache.spark.rdd.RDD;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoder;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.storage.StorageLevel;
import scala.Option;
import scala.Tuple2;
import scala.reflect.ClassTag;
import scala.reflect.ClassTag$;

/**
 * Connected components with GraphX (Pregel label propagation), for radar.graph.components.
 *
 * <p>Called from Python through py4j. The edges arrive as a DataFrame of two long columns and leave
 * as a DataFrame (vid, cc); both conversions go through Spark's built-in tuple encoders, so this class
 * ships no closures: tasks never need to load it, only the driver does.
 */
public final class Components {
  private Components() {}

  /** One row (vid, cc) per vertex of {@code edges} (columns src, dst: long), cc the smallest vid. */
  public static Dataset<Row> run(Dataset<Row> edges, int maxIterations) {
    SparkSession spark = edges.sparkSession();
    Encoder<Tuple2<Long, Long>> pair = Encoders.tuple(Encoders.LONG(), Encoders.LONG());
    @SuppressWarnings({"unchecked", "rawtypes"})
    RDD<Tuple2<Object, Object>> raw = (RDD) edges.select("src", "dst").as(pair).rdd();
    ClassTag<Object> anyTag = ClassTag$.MODULE$.Any();
    Graph<Object, Object> graph =
        Graph.fromEdgeTuples(
            raw,
            (Object) Integer.valueOf(0),
            Option.empty(),
            StorageLevel.MEMORY_AND_DISK(),
            StorageLevel.MEMORY_AND_DISK(),
            anyTag);
    Graph<Object, Object> cc = ConnectedComponents.run(graph, maxIterations, anyTag, anyTag);
    @SuppressWarnings({"unchecked", "rawtypes"})
    RDD<Tuple2<Long, Long>> vertices = (RDD) cc.vertices();
    return spark.createDataset(vertices, pair).toDF("vid", "cc");
  }

  /** The GraphX version this shim was compiled against (a cheap liveness check). */
  public static String version() {
    return org.apache.spark.package$.MODULE$.SPARK_VERSION();
  }
}

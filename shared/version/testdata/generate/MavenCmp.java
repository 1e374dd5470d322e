// Reads "a<TAB>b" lines, prints "a<TAB>b<TAB>cmp" per Maven's ComparableVersion.
// Run: java -cp /usr/share/java/maven-artifact-3.x.jar MavenCmp.java
import java.io.*;
import org.apache.maven.artifact.versioning.ComparableVersion;

public class MavenCmp {
    public static void main(String[] args) throws IOException {
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, "UTF-8"));
        String line;
        while ((line = in.readLine()) != null) {
            String[] p = line.split("\t", 2);
            int c = new ComparableVersion(p[0]).compareTo(new ComparableVersion(p[1]));
            System.out.println(p[0] + "\t" + p[1] + "\t" + Integer.signum(c));
        }
    }
}

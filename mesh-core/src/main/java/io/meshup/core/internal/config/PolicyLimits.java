package io.meshup.core.internal.config;

/**
 * The bounds every YAML text is read within, bootstrap and policy alike, whichever source it came
 * from (inline, a file, {@code Mesh.updatePolicies}, Consul KV, Consul config entries). Each is
 * checked while the text is read, before a tree of that size exists: the size before parsing, the
 * depth and node count event by event (an alias counts every node it expands to), the key length
 * as each key is read, and the output of {@code ${VAR}} substitution as it is produced. A text past
 * any of them is refused with a {@code MeshConfigException} naming the source and the limit.
 *
 * @param maxDocumentBytes the size of one text, in UTF-8 bytes
 * @param maxDepth how deeply mappings and sequences may nest (the root mapping is depth 1)
 * @param maxNodes how many nodes (keys, values and items) one text may hold once every alias is
 *     expanded
 * @param maxKeyLength the length of a mapping key, in characters
 * @param maxSubstitutionChars how many characters the scalars that hold {@code ${VAR}} may add up
 *     to after substitution, in one text
 */
public record PolicyLimits(int maxDocumentBytes, int maxDepth, int maxNodes, int maxKeyLength, int maxSubstitutionChars) {
  /** 1 MiB, 64 levels, 100,000 nodes, 1,024-character keys, 1 MiB of substituted text. */
  public static final PolicyLimits DEFAULT = new PolicyLimits(1 << 20, 64, 100_000, 1024, 1 << 20);

  /** Checks that every limit is positive. */
  public PolicyLimits {
    if (maxDocumentBytes < 1 || maxDepth < 1 || maxNodes < 1 || maxKeyLength < 1 || maxSubstitutionChars < 0) {
      throw new IllegalArgumentException("policy limits must be positive: " + maxDocumentBytes + ", " + maxDepth + ", "
          + maxNodes + ", " + maxKeyLength + ", " + maxSubstitutionChars);
    }
  }
}

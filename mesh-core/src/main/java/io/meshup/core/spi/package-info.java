/**
 * What plug-ins implement: endpoint registries and certificate sources. Every type here states its
 * threading.
 */
package io.meshup.core.spi;

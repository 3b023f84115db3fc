/**
 * What plug-ins implement: endpoint registries. Every type here states its threading.
 */
package io.meshup.core.spi;

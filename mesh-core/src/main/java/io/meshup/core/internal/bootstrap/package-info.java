/**
 * Internal: what {@link io.meshup.core.Mesh} assembles while it starts: certificate sources
 * (built-in and plug-ins), registry plug-ins, the default scheduler, and the policy updates a
 * plug-in delivers before the mesh is ready.
 */
package io.meshup.core.internal.bootstrap;

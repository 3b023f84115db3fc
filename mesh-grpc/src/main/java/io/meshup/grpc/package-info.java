/**
 * gRPC through the mesh: {@link io.meshup.grpc.MeshChannels} gives a channel for a logical service
 * name; everything else lives in {@code io.meshup.grpc.internal}.
 */
package io.meshup.grpc;

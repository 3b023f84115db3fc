package io.meshup.etcd.internal;

import com.google.protobuf.Message;
import io.grpc.MethodDescriptor;
import io.grpc.protobuf.ProtoUtils;
import io.meshup.etcd.internal.proto.AuthEnableRequest;
import io.meshup.etcd.internal.proto.AuthEnableResponse;
import io.meshup.etcd.internal.proto.AuthRoleAddRequest;
import io.meshup.etcd.internal.proto.AuthRoleAddResponse;
import io.meshup.etcd.internal.proto.AuthRoleGrantPermissionRequest;
import io.meshup.etcd.internal.proto.AuthRoleGrantPermissionResponse;
import io.meshup.etcd.internal.proto.AuthUserAddRequest;
import io.meshup.etcd.internal.proto.AuthUserAddResponse;
import io.meshup.etcd.internal.proto.AuthUserGrantRoleRequest;
import io.meshup.etcd.internal.proto.AuthUserGrantRoleResponse;
import io.meshup.etcd.internal.proto.AuthenticateRequest;
import io.meshup.etcd.internal.proto.AuthenticateResponse;
import io.meshup.etcd.internal.proto.CompactionRequest;
import io.meshup.etcd.internal.proto.CompactionResponse;
import io.meshup.etcd.internal.proto.DeleteRangeRequest;
import io.meshup.etcd.internal.proto.DeleteRangeResponse;
import io.meshup.etcd.internal.proto.LeaseGrantRequest;
import io.meshup.etcd.internal.proto.LeaseGrantResponse;
import io.meshup.etcd.internal.proto.LeaseKeepAliveRequest;
import io.meshup.etcd.internal.proto.LeaseKeepAliveResponse;
import io.meshup.etcd.internal.proto.LeaseRevokeRequest;
import io.meshup.etcd.internal.proto.LeaseRevokeResponse;
import io.meshup.etcd.internal.proto.LeaseTimeToLiveRequest;
import io.meshup.etcd.internal.proto.LeaseTimeToLiveResponse;
import io.meshup.etcd.internal.proto.PutRequest;
import io.meshup.etcd.internal.proto.PutResponse;
import io.meshup.etcd.internal.proto.RangeRequest;
import io.meshup.etcd.internal.proto.RangeResponse;
import io.meshup.etcd.internal.proto.StatusRequest;
import io.meshup.etcd.internal.proto.StatusResponse;
import io.meshup.etcd.internal.proto.WatchRequest;
import io.meshup.etcd.internal.proto.WatchResponse;

/**
 * The gRPC methods of etcd's v3 API that this module calls, as grpc-java method descriptors: the
 * services and method names of {@code etcd_v3.proto} (etcd's {@code etcdserverpb} package), with
 * protobuf marshallers of the messages generated from it. Constants only.
 */
final class EtcdMethods {
  private EtcdMethods() {}

  static final MethodDescriptor<RangeRequest, RangeResponse> RANGE =
      unary("KV", "Range", RangeRequest.getDefaultInstance(), RangeResponse.getDefaultInstance());
  static final MethodDescriptor<PutRequest, PutResponse> PUT =
      unary("KV", "Put", PutRequest.getDefaultInstance(), PutResponse.getDefaultInstance());
  static final MethodDescriptor<DeleteRangeRequest, DeleteRangeResponse> DELETE_RANGE =
      unary("KV", "DeleteRange", DeleteRangeRequest.getDefaultInstance(), DeleteRangeResponse.getDefaultInstance());
  static final MethodDescriptor<CompactionRequest, CompactionResponse> COMPACT =
      unary("KV", "Compact", CompactionRequest.getDefaultInstance(), CompactionResponse.getDefaultInstance());

  static final MethodDescriptor<WatchRequest, WatchResponse> WATCH =
      method(MethodDescriptor.MethodType.BIDI_STREAMING, "Watch", "Watch", WatchRequest.getDefaultInstance(),
          WatchResponse.getDefaultInstance());

  static final MethodDescriptor<LeaseGrantRequest, LeaseGrantResponse> LEASE_GRANT =
      unary("Lease", "LeaseGrant", LeaseGrantRequest.getDefaultInstance(), LeaseGrantResponse.getDefaultInstance());
  static final MethodDescriptor<LeaseRevokeRequest, LeaseRevokeResponse> LEASE_REVOKE =
      unary("Lease", "LeaseRevoke", LeaseRevokeRequest.getDefaultInstance(), LeaseRevokeResponse.getDefaultInstance());
  static final MethodDescriptor<LeaseKeepAliveRequest, LeaseKeepAliveResponse> LEASE_KEEP_ALIVE =
      method(MethodDescriptor.MethodType.BIDI_STREAMING, "Lease", "LeaseKeepAlive",
          LeaseKeepAliveRequest.getDefaultInstance(), LeaseKeepAliveResponse.getDefaultInstance());
  static final MethodDescriptor<LeaseTimeToLiveRequest, LeaseTimeToLiveResponse> LEASE_TIME_TO_LIVE =
      unary("Lease", "LeaseTimeToLive", LeaseTimeToLiveRequest.getDefaultInstance(),
          LeaseTimeToLiveResponse.getDefaultInstance());

  static final MethodDescriptor<StatusRequest, StatusResponse> STATUS =
      unary("Maintenance", "Status", StatusRequest.getDefaultInstance(), StatusResponse.getDefaultInstance());

  static final MethodDescriptor<AuthenticateRequest, AuthenticateResponse> AUTHENTICATE =
      unary("Auth", "Authenticate", AuthenticateRequest.getDefaultInstance(), AuthenticateResponse.getDefaultInstance());
  static final MethodDescriptor<AuthEnableRequest, AuthEnableResponse> AUTH_ENABLE =
      unary("Auth", "AuthEnable", AuthEnableRequest.getDefaultInstance(), AuthEnableResponse.getDefaultInstance());
  static final MethodDescriptor<AuthUserAddRequest, AuthUserAddResponse> USER_ADD =
      unary("Auth", "UserAdd", AuthUserAddRequest.getDefaultInstance(), AuthUserAddResponse.getDefaultInstance());
  static final MethodDescriptor<AuthUserGrantRoleRequest, AuthUserGrantRoleResponse> USER_GRANT_ROLE =
      unary("Auth", "UserGrantRole", AuthUserGrantRoleRequest.getDefaultInstance(),
          AuthUserGrantRoleResponse.getDefaultInstance());
  static final MethodDescriptor<AuthRoleAddRequest, AuthRoleAddResponse> ROLE_ADD =
      unary("Auth", "RoleAdd", AuthRoleAddRequest.getDefaultInstance(), AuthRoleAddResponse.getDefaultInstance());
  static final MethodDescriptor<AuthRoleGrantPermissionRequest, AuthRoleGrantPermissionResponse> ROLE_GRANT_PERMISSION =
      unary("Auth", "RoleGrantPermission", AuthRoleGrantPermissionRequest.getDefaultInstance(),
          AuthRoleGrantPermissionResponse.getDefaultInstance());

  private static <Q extends Message, R extends Message> MethodDescriptor<Q, R> unary(String service, String name,
      Q request, R response) {
    return method(MethodDescriptor.MethodType.UNARY, service, name, request, response);
  }

  private static <Q extends Message, R extends Message> MethodDescriptor<Q, R> method(MethodDescriptor.MethodType type,
      String service, String name, Q request, R response) {
    return MethodDescriptor.<Q, R>newBuilder()
        .setType(type)
        .setFullMethodName(MethodDescriptor.generateFullMethodName("etcdserverpb." + service, name))
        .setRequestMarshaller(ProtoUtils.marshaller(request))
        .setResponseMarshaller(ProtoUtils.marshaller(response))
        .build();
  }
}

package io.meshup.spring.autoconfigure;

import io.meshup.spring.internal.BoundTree;
import org.springframework.boot.autoconfigure.condition.ConditionOutcome;
import org.springframework.boot.autoconfigure.condition.SpringBootCondition;
import org.springframework.context.annotation.ConditionContext;
import org.springframework.core.env.ConfigurableEnvironment;
import org.springframework.core.type.AnnotatedTypeMetadata;

/** Matches when any property source holds a key under {@code mesh}. */
final class MeshSectionCondition extends SpringBootCondition {
  @Override
  public ConditionOutcome getMatchOutcome(ConditionContext context, AnnotatedTypeMetadata metadata) {
    if (context.getEnvironment() instanceof ConfigurableEnvironment env && BoundTree.present(env)) {
      return ConditionOutcome.match("a mesh section is configured");
    }
    return ConditionOutcome.noMatch("no property under 'mesh' (mesh.service...)");
  }
}

package main

import (
	"fmt"
	"sort"

	operatorsv1alpha1 "github.com/operator-framework/api/pkg/operators/v1alpha1"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// admissionWebhook is what mutating and validating webhooks share.
type admissionWebhook struct {
	config             string
	kind               operatorsv1alpha1.WebhookAdmissionType
	name               string
	clientConfig       admissionregistrationv1.WebhookClientConfig
	rules              []admissionregistrationv1.RuleWithOperations
	failurePolicy      *admissionregistrationv1.FailurePolicyType
	matchPolicy        *admissionregistrationv1.MatchPolicyType
	namespaceSelector  *metav1.LabelSelector
	objectSelector     *metav1.LabelSelector
	sideEffects        *admissionregistrationv1.SideEffectClass
	timeoutSeconds     *int32
	reviewVersions     []string
	reinvocationPolicy *admissionregistrationv1.ReinvocationPolicyType
}

func admissionWebhooks(p *installParts) []admissionWebhook {
	var out []admissionWebhook
	for _, cfg := range p.mutatingWebhooks {
		for _, w := range cfg.Webhooks {
			out = append(out, admissionWebhook{
				config: cfg.Name, kind: operatorsv1alpha1.MutatingAdmissionWebhook, name: w.Name,
				clientConfig: w.ClientConfig, rules: w.Rules, failurePolicy: w.FailurePolicy,
				matchPolicy: w.MatchPolicy, namespaceSelector: w.NamespaceSelector,
				objectSelector: w.ObjectSelector, sideEffects: w.SideEffects,
				timeoutSeconds: w.TimeoutSeconds, reviewVersions: w.AdmissionReviewVersions,
				reinvocationPolicy: w.ReinvocationPolicy,
			})
		}
	}
	for _, cfg := range p.validatingWebhooks {
		for _, w := range cfg.Webhooks {
			out = append(out, admissionWebhook{
				config: cfg.Name, kind: operatorsv1alpha1.ValidatingAdmissionWebhook, name: w.Name,
				clientConfig: w.ClientConfig, rules: w.Rules, failurePolicy: w.FailurePolicy,
				matchPolicy: w.MatchPolicy, namespaceSelector: w.NamespaceSelector,
				objectSelector: w.ObjectSelector, sideEffects: w.SideEffects,
				timeoutSeconds: w.TimeoutSeconds, reviewVersions: w.AdmissionReviewVersions,
			})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// webhookDefinitions replaces the webhook configurations and their Services with CSV
// webhook definitions: OLM creates both itself, with a certificate it issues and
// rotates. It returns the Services OLM replaces and, per Deployment, the port the
// webhook server listens on.
func webhookDefinitions(p *installParts) (defs []operatorsv1alpha1.WebhookDescription, services map[string]bool, ports map[string]intstr.IntOrString, notes []string, err error) {
	services, ports = map[string]bool{}, map[string]intstr.IntOrString{}
	for _, w := range admissionWebhooks(p) {
		ref := w.clientConfig.Service
		if ref == nil {
			return nil, nil, nil, nil, fmt.Errorf("webhook %s calls a URL; a CSV can only express webhooks served by its Deployment", w.name)
		}
		svc, err := findService(p.services, ref.Name)
		if err != nil {
			return nil, nil, nil, nil, fmt.Errorf("webhook %s: %w", w.name, err)
		}
		servicePort := int32(443)
		if ref.Port != nil {
			servicePort = *ref.Port
		}
		target, err := targetPort(svc, servicePort)
		if err != nil {
			return nil, nil, nil, nil, fmt.Errorf("webhook %s: %w", w.name, err)
		}
		deployment, err := selectedDeployment(p, svc)
		if err != nil {
			return nil, nil, nil, nil, fmt.Errorf("webhook %s: %w", w.name, err)
		}
		if w.namespaceSelector != nil && (len(w.namespaceSelector.MatchLabels) > 0 || len(w.namespaceSelector.MatchExpressions) > 0) {
			notes = append(notes, fmt.Sprintf("webhook %s: a CSV cannot carry namespaceSelector %s; OLM sets the OperatorGroup's namespaces instead, so the webhook must check the namespace opt-in itself",
				w.name, metav1.FormatLabelSelector(w.namespaceSelector)))
		}
		services[svc.Name] = true
		ports[deployment] = target
		defs = append(defs, operatorsv1alpha1.WebhookDescription{
			GenerateName:            w.name,
			Type:                    w.kind,
			DeploymentName:          deployment,
			ContainerPort:           servicePort,
			TargetPort:              &target,
			Rules:                   w.rules,
			FailurePolicy:           w.failurePolicy,
			MatchPolicy:             w.matchPolicy,
			ObjectSelector:          w.objectSelector,
			SideEffects:             w.sideEffects,
			TimeoutSeconds:          w.timeoutSeconds,
			AdmissionReviewVersions: w.reviewVersions,
			ReinvocationPolicy:      w.reinvocationPolicy,
			WebhookPath:             ref.Path,
		})
	}
	return defs, services, ports, notes, nil
}

func findService(services []corev1.Service, name string) (corev1.Service, error) {
	for _, s := range services {
		if s.Name == name {
			return s, nil
		}
	}
	return corev1.Service{}, fmt.Errorf("Service %s is not in the install", name)
}

// targetPort is the container port behind the Service port the webhook calls.
func targetPort(svc corev1.Service, port int32) (intstr.IntOrString, error) {
	for _, sp := range svc.Spec.Ports {
		if sp.Port != port {
			continue
		}
		if sp.TargetPort.Type == intstr.Int && sp.TargetPort.IntVal == 0 {
			return intstr.FromInt32(port), nil
		}
		return sp.TargetPort, nil
	}
	return intstr.IntOrString{}, fmt.Errorf("Service %s has no port %d", svc.Name, port)
}

// selectedDeployment is the one Deployment whose pods the Service selects.
func selectedDeployment(p *installParts, svc corev1.Service) (string, error) {
	if len(svc.Spec.Selector) == 0 {
		return "", fmt.Errorf("Service %s selects no pods", svc.Name)
	}
	sel := labels.SelectorFromSet(svc.Spec.Selector)
	var names []string
	for _, d := range p.deployments {
		if sel.Matches(labels.Set(d.Spec.Template.Labels)) {
			names = append(names, d.Name)
		}
	}
	if len(names) != 1 {
		return "", fmt.Errorf("Service %s selects the pods of %d Deployments %v, want exactly one", svc.Name, len(names), names)
	}
	return names[0], nil
}

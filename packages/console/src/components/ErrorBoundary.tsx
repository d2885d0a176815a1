import { Component, type ReactNode } from 'react';

/** A page that throws while rendering shows what happened and a way on, instead of a blank screen. */
export class ErrorBoundary extends Component<{ children: ReactNode; resetKey: string }, { error: Error | null }> {
  override state: { error: Error | null } = { error: null };

  static getDerivedStateFromError(error: Error) {
    return { error };
  }

  override componentDidUpdate(prev: { resetKey: string }) {
    if (prev.resetKey !== this.props.resetKey && this.state.error) this.setState({ error: null });
  }

  override render() {
    if (!this.state.error) return this.props.children;
    return (
      <section role="alert">
        <h1>Something went wrong on this page</h1>
        <p className="error">{this.state.error.message}</p>
        <p>
          <a href="/flags">Back to flags</a> or reload the page.
        </p>
      </section>
    );
  }
}
